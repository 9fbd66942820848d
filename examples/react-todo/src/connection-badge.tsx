import { useConnection } from "@trellis/react";

const colours = {
  online: "#1a7f37",
  syncing: "#9a6700",
  connecting: "#9a6700",
  offline: "#cf222e",
  initial: "#57606a",
} as const;

/**
 * The client's sync state and how many local writes the server has not acknowledged yet; while
 * it cannot reach the server, why (a wrong server URL looks different from being offline).
 */
export function ConnectionBadge() {
  const { state, pending, lastError, progress } = useConnection();
  const isUnreachable = lastError?.code === "NETWORK" && state !== "online" && state !== "syncing";
  return (
    <>
      <span
        data-testid="connection"
        data-state={state}
        data-pending={pending}
        title={lastError?.message ?? ""}
        style={{ color: colours[state] }}
      >
        {state} · {pending} pending
      </span>
      {progress !== undefined && (
        // A large first sync: how many documents arrived, instead of empty counts until the end.
        <small data-testid="sync-progress" style={{ display: "block" }}>
          <progress value={progress.documents} max={progress.total} /> {progress.documents.toLocaleString()} of{" "}
          {progress.total.toLocaleString()} documents
        </small>
      )}
      {isUnreachable && (
        <small data-testid="sync-error" role="status" style={{ display: "block", color: colours.offline }}>
          Not syncing: {lastError.message}
        </small>
      )}
    </>
  );
}
