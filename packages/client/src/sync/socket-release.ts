import type { Timers } from "./timers.js";
import { CLOSED, type WebSocketLike } from "./web-socket.js";

const ignore = (): void => {};

/**
 * Closes the sockets the connection no longer listens to, and knows when they are all closed.
 * A graceful close waits (at most `timeoutMs`) for the closing handshake, so that a client can
 * shut down with nothing left open.
 *
 * @example
 * import { SYSTEM_TIMERS } from "./timers.js";
 * const sockets = new SocketRelease(SYSTEM_TIMERS, 10_000);
 * sockets.release(socket, true); // close(1000), its late events ignored
 * await sockets.settled(); // the closing handshake is over (or timed out)
 */
export class SocketRelease {
  private readonly releasing = new Set<Promise<void>>();

  constructor(
    private readonly timers: Timers,
    private readonly timeoutMs: number,
  ) {}

  /** Lets `socket` go: closed with a handshake when graceful, else terminated where the implementation can. */
  release(socket: WebSocketLike, isGraceful: boolean): void {
    // Handlers stay set (as no-ops): `ws` throws on an "error" event nobody listens to.
    socket.onopen = ignore;
    socket.onmessage = ignore;
    socket.onerror = ignore;
    if (!isGraceful && socket.terminate !== undefined) {
      socket.onclose = ignore;
      socket.terminate();
      return;
    }
    if (socket.readyState === CLOSED) {
      // Closed already (the server went away): no close event is coming.
      socket.onclose = ignore;
      return;
    }
    const released = new Promise<void>((resolve) => {
      const timer = this.timers.setTimeout(() => {
        socket.terminate?.();
        resolve();
      }, this.timeoutMs);
      socket.onclose = () => {
        this.timers.clearTimeout(timer);
        resolve();
      };
      try {
        socket.close(1000);
      } catch {
        this.timers.clearTimeout(timer);
        resolve();
      }
    });
    this.releasing.add(released);
    void released.then(() => this.releasing.delete(released));
  }

  /** Resolves once every socket released so far is closed. */
  async settled(): Promise<void> {
    await Promise.all([...this.releasing]);
  }
}
