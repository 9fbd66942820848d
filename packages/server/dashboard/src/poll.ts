/** How often the view on screen is fetched again (design/027: live by polling). */
export const POLL_MS = 2_000;

/**
 * Runs `load` now and every {@link POLL_MS} while the tab is visible; returns the stop function
 * (for a Svelte `$effect` to return). A load still running when the next is due is not doubled.
 */
export function poll(load: () => Promise<void>): () => void {
  let running = false;
  const tick = async () => {
    if (running || document.visibilityState === "hidden") return;
    running = true;
    try {
      await load();
    } finally {
      running = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), POLL_MS);
  const onVisible = () => void tick();
  document.addEventListener("visibilitychange", onVisible);
  return () => {
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
}
