/**
 * Where a server handler starts: each client message type, `"commit"` (an app's group commit),
 * `"route"` (sending a commit's changes) and `"http"` (an HTTP request).
 */
export type FaultPoint =
  | "hello"
  | "subscribe"
  | "unsubscribe"
  | "push"
  | "ping"
  | "token"
  | "join"
  | "leave"
  | "emit"
  | "setUserStatus"
  | "setRoomStatus"
  | "commit"
  | "route"
  | "http";

/**
 * Called as each handler starts; for tests that prove a bug in one handler (a throw here) stays
 * with the request that hit it. Never set it in production.
 */
export type FaultHook = (point: FaultPoint) => void;
