import { DatabaseError } from "@trellis/core";

/**
 * A close event in words: its code and reason (browsers give 1006 and no reason for a failed upgrade).
 *
 * @example closeReason({ code: 1006 }) // "closed with code 1006"
 */
export function closeReason(event: { readonly code?: number; readonly reason?: string }): string {
  const code = event.code === undefined ? "" : ` with code ${event.code}`;
  return `closed${code}${event.reason ? `: ${event.reason}` : ""}`;
}

/**
 * An error event in words: `ws` says what failed (ECONNREFUSED, "Unexpected server response: 404"); browsers say nothing.
 *
 * @example errorReason({ message: "connect ECONNREFUSED 127.0.0.1:8787" }) // that message
 */
export function errorReason(event: { readonly message?: string; readonly error?: unknown }): string {
  const message = event.message ?? (event.error instanceof Error ? event.error.message : undefined);
  return message === undefined || message === "" ? "the connection failed" : message;
}

/**
 * The NETWORK error of an attempt that never reached a `welcome`: the URL, how far it got and why.
 *
 * @example unreachableError("ws://127.0.0.1:8787/v1/sync", "closed with code 1006", false)
 */
export function unreachableError(url: string, reason: string, isOpen: boolean): DatabaseError {
  const before = isOpen ? "the WebSocket opened but closed before the server's welcome" : "could not open a WebSocket";
  return new DatabaseError(
    "NETWORK",
    `Cannot sync with ${url}: ${before} (${reason}). Check serverUrl, and that a trellis-server runs there.`,
    { url, reason },
  );
}

/**
 * What `getToken` failed with, as the error the client reports: its own DatabaseError, or UNAUTHORIZED.
 *
 * @example tokenError(new Error("session expired")) // UNAUTHORIZED: Could not get a token: session expired
 */
export function tokenError(error: unknown): DatabaseError {
  return error instanceof DatabaseError
    ? error
    : new DatabaseError("UNAUTHORIZED", `Could not get a token: ${messageOf(error)}`);
}

/**
 * A thrown value in words.
 *
 * @example messageOf(new TypeError("WebSocket is not a constructor")) // "WebSocket is not a constructor"
 */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
