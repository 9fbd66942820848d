import type { ServerMessage, UserStatusMessage } from "@trellis/core";

/** Unsent bytes above which a connection counts as slow and status updates start to coalesce. */
const SLOW_BYTES = 64 * 1024;
/** How often a slow connection's backlog is checked. */
const POLL_MS = 10;

/**
 * Keeps high-rate statuses (cursors at 60 Hz) from flooding a connection. A `userStatus` goes at
 * once when none went in the last `intervalMs`; later ones within the interval are held and only
 * the latest per (room, user) goes when it ends, so each user's status reaches a connection at
 * most once per interval. While the socket has a backlog, held statuses wait for it to drain. A
 * status carries a user's whole status, so the latest one loses nothing that matters. Events are
 * never held.
 *
 * @example
 * import { WebSocketServer } from "ws";
 * new WebSocketServer({ port: 8787 }).on("connection", (socket) => {
 *   const sendNow = (message: ServerMessage) => socket.send(JSON.stringify(message));
 *   const coalescer = new StatusCoalescer(() => socket.bufferedAmount, sendNow, 50);
 *   const send = (message: ServerMessage) => coalescer.offer(message) || sendNow(message);
 * });
 */
export class StatusCoalescer {
  private readonly held = new Map<string, UserStatusMessage>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastSentAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly backlogBytes: () => number,
    private readonly deliver: (message: ServerMessage) => void,
    private readonly intervalMs: number,
  ) {}

  /** Takes `message` to send later (true), or leaves it to be sent now (false). */
  offer(message: ServerMessage): boolean {
    if (message.type === "roomState") {
      // A room's whole state supersedes the statuses held for it.
      for (const [key, held] of this.held)
        if (held.roomType === message.roomType && held.roomId === message.roomId) this.held.delete(key);
      return false;
    }
    if (message.type !== "userStatus") return false;
    const now = Date.now();
    // Once something is held, later statuses wait too, so none overtakes an older one.
    if (this.held.size === 0 && now - this.lastSentAt >= this.intervalMs && this.backlogBytes() <= SLOW_BYTES) {
      this.lastSentAt = now;
      return false;
    }
    const key = JSON.stringify([message.roomType, message.roomId, message.userId]);
    this.held.delete(key);
    this.held.set(key, message);
    this.schedule(Math.max(POLL_MS, this.lastSentAt + this.intervalMs - now));
    return true;
  }

  /** Drops what is held (the connection is gone). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.held.clear();
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.backlogBytes() > SLOW_BYTES) return this.schedule(POLL_MS);
      const held = [...this.held.values()];
      this.held.clear();
      this.lastSentAt = Date.now();
      for (const message of held) this.deliver(message);
    }, delayMs);
  }
}
