/**
 * Where `createClient({ debug })` sends what sync does: connection steps, pushes, acks and query
 * syncs, one `console.debug` line each, prefixed `[trellis]`. Undefined when debugging is off.
 */
export type DebugLog = (event: string, details?: Readonly<Record<string, unknown>>) => void;

/** The key that turns debugging on in a browser without code: `localStorage.trellisDebug = "1"`. */
export const DEBUG_STORAGE_KEY = "trellisDebug";

/**
 * The debug log for a client: on with `debug: true`, off with `false`; left undefined, on when
 * `localStorage.trellisDebug` is set (to anything but "0" or "false").
 *
 * @example createDebugLog(true)?.("connecting", { url: "ws://127.0.0.1:8787/v1/sync" })
 */
export function createDebugLog(debug: boolean | undefined, appId: string): DebugLog | undefined {
  if (!(debug ?? isDebugStored())) return undefined;
  return (event, details) => {
    if (details === undefined) console.debug(`[trellis ${appId}] ${event}`);
    else console.debug(`[trellis ${appId}] ${event}`, details);
  };
}

function isDebugStored(): boolean {
  try {
    const stored = (globalThis as { localStorage?: { getItem(key: string): string | null } }).localStorage?.getItem(
      DEBUG_STORAGE_KEY,
    );
    return stored !== null && stored !== undefined && stored !== "0" && stored !== "false";
  } catch {
    // Storage can be blocked (a sandboxed frame): no debugging then.
    return false;
  }
}
