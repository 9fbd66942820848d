/**
 * What the sync connection needs of a WebSocket: the browser's `WebSocket` and the `ws`
 * package's both fit. Handlers take `never` so either implementation's event types are
 * accepted; the connection reads only `data` of a message event.
 */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the connection without a closing handshake. */
  terminate?(): void;
}

/**
 * A WebSocket class: `WebSocket` in browsers, Node 22+ and Deno, or `ws`'s default export.
 *
 * @example
 * import WebSocket from "ws";
 * createClient({ schema, serverUrl, WebSocket });
 */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `readyState` of an open socket (the same in every implementation). */
export const OPEN = 1;
/** `readyState` of a closed socket (the same in every implementation). */
export const CLOSED = 3;

/**
 * The WebSocket class to use: the one given, else the global one, else `ws` (Node 20 has no
 * global WebSocket), loaded only when needed so browser bundles never include it.
 */
export function resolveWebSocket(
  given: WebSocketConstructor | undefined,
): WebSocketConstructor | Promise<WebSocketConstructor> {
  if (given !== undefined) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global !== undefined) return global;
  return import(/* @vite-ignore */ "ws").then((module) => module.default as WebSocketConstructor);
}
