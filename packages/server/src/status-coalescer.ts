import type { ServerMessage, UserStatusMessage } from "@trellis/core";

/** Unsent bytes above which a connection counts as slow and status updates start to coalesce. */
const SLOW_BYTES = 64 * 1024;
/** How often a slow connection's backlog is checked. */
const POLL_MS = 10;

/**
 * Keeps a slow connection from falling ever further behind on high-rate statuses (cursors at
 * 60 Hz): while its socket has a backlog, `userStatus` messages are held back and only the
 * latest per (room, user) is sent once the backlog drains. A status carries a user's whole
 * status, so the latest one loses nothing that matters. Events are never held.
 *
 * @example
 * const coalescer = new StatusCoalescer(() => socket.bufferedAmount, (message) => sendNow(message));
 * if (!coalescer.offer(message)) sendNow(message);
 */
export class StatusCoalescer {
  private readonly held = new Map<string, UserStatusMessage>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly backlogBytes: () => number,
    private readonly deliver: (message: ServerMessage) => void,
  ) {}

  /** Takes `message` to send later (true), or leaves it to be sent now (false). */
  offer(message: ServerMessage): boolean {
    if (message.type === "roomState") {
      // A room's whole state supersedes the statuses held for it.
      for (const [key, held] of this.held) if (held.roomType === message.roomType && held.roomId === message.roomId) this.held.delete(key);
      return false;
    }
    if (message.type !== "userStatus") return false;
    // Once something is held, later statuses wait too, so none overtakes an older one.
    if (this.held.size === 0 && this.backlogBytes() <= SLOW_BYTES) return false;
    const key = JSON.stringify([message.roomType, message.roomId, message.userId]);
    this.held.delete(key);
    this.held.set(key, message);
    this.schedule();
    return true;
  }

  /** Drops what is held (the connection is gone). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.held.clear();
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.backlogBytes() > SLOW_BYTES) return this.schedule();
      const held = [...this.held.values()];
      this.held.clear();
      for (const message of held) this.deliver(message);
    }, POLL_MS);
  }
}
