import { useConnection } from "@trellis/react";

const colours = { online: "#1a7f37", syncing: "#9a6700", connecting: "#9a6700", offline: "#cf222e", initial: "#57606a" } as const;

/** The client's sync state and how many local writes the server has not acknowledged yet. */
export function ConnectionBadge() {
  const { state, pending, lastError } = useConnection();
  return (
    <span data-testid="connection" data-state={state} data-pending={pending} title={lastError?.message ?? ""} style={{ color: colours[state] }}>
      {state} · {pending} pending
    </span>
  );
}
