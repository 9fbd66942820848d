import type { Timers } from "./timers.js";
import { CLOSED, type WebSocketLike } from "./web-socket.js";

const ignore = (): void => {};

/**
 * Lets go of a socket the connection no longer listens to: terminated where the implementation
 * can when not graceful, else closed with a handshake. Returns, for a graceful close, a promise
 * that settles once the handshake is over (or after `timeoutMs`), so that a client can shut
 * down with nothing left open.
 *
 * @example
 * import { SYSTEM_TIMERS } from "./timers.js";
 * await releaseSocket(socket, true, SYSTEM_TIMERS, 10_000); // close(1000), its late events ignored
 */
export function releaseSocket(
  socket: WebSocketLike,
  isGraceful: boolean,
  timers: Timers,
  timeoutMs: number,
): Promise<void> | undefined {
  // Handlers stay set (as no-ops): `ws` throws on an "error" event nobody listens to.
  socket.onopen = ignore;
  socket.onmessage = ignore;
  socket.onerror = ignore;
  if (!isGraceful && socket.terminate !== undefined) {
    socket.onclose = ignore;
    socket.terminate();
    return undefined;
  }
  if (socket.readyState === CLOSED) {
    // Closed already (the server went away): no close event is coming.
    socket.onclose = ignore;
    return undefined;
  }
  return new Promise<void>((resolve) => {
    const timer = timers.setTimeout(() => {
      socket.terminate?.();
      resolve();
    }, timeoutMs);
    socket.onclose = () => {
      timers.clearTimeout(timer);
      resolve();
    };
    try {
      socket.close(1000);
    } catch {
      timers.clearTimeout(timer);
      resolve();
    }
  });
}
