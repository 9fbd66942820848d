import { TokenBucket } from "./token-bucket.js";

/**
 * Server time a message costs before its handler runs, per MiB: reading it from the socket,
 * unmasking and checking it as UTF-8 (in `ws`), and collecting the garbage it leaves. Measured
 * on 900 KiB frames: 10–25 ms of event-loop time beyond what the handler took.
 */
const RECEIVE_MS_PER_MIB = 16;

/** The server time receiving a message of `bytes` costs (see {@link RECEIVE_MS_PER_MIB}), counted with the time its handler took. */
export function receiveCostMs(bytes: number): number {
  return (bytes / (1024 * 1024)) * RECEIVE_MS_PER_MIB;
}

/**
 * A refused message (a malformed frame, a query over the cost limit, a room message over its
 * rate) costs ten times its server time, and at least 10 ms. Well-behaved clients almost never
 * send one, while a hostile client's traffic is mostly made of them; each runs in one piece and
 * delays whatever arrives meanwhile, so counting them heavier makes them rarer while others
 * wait. The floor covers what the handler's clock does not see of a small frame (its syscalls
 * and framing), so a flood of tiny bad frames is slowed down too.
 */
export function refusedCostMs(ms: number): number {
  return Math.max(ms, 1) * 10;
}

/** How recently another user must have been served for a user over its share to wait. */
const CONTENTION_WINDOW_MS = 1_000;

/** One user's share of the server's time. */
export class WorkShare {
  /** Connections and requests using it now. */
  users = 0;
  /** When it last spent time, or when its last user left (`performance.now()`). */
  lastActive = 0;
  readonly bucket: TokenBucket;

  constructor(
    private readonly shares: WorkShares,
    msPerSecond: number,
    burstMs: number,
  ) {
    this.bucket = new TokenBucket(msPerSecond, burstMs);
  }

  /** Counts `ms` of server time spent on this user. */
  spend(ms: number): void {
    this.bucket.spend(ms);
    this.lastActive = performance.now();
  }

  /**
   * How long this user's next message should wait: until its share is back above zero, and only
   * while other users want the server (alone, a user may have all of it). 0: go on now.
   */
  waitMs(): number {
    const wait = this.bucket.msUntilPositive();
    return wait > 0 && this.shares.isAnyoneElseActive(this) ? wait : 0;
  }
}

/**
 * The server time each user may take while others are waiting for it, shared by all of that
 * user's connections and requests and kept across reconnects (for as long as it takes to
 * refill): a client that keeps the server busy is slowed down to its share, and new connections
 * do not give it a fresh one. A user alone on the server is never slowed down.
 *
 * @example
 * const shares = new WorkShares(250, 2_000); // a quarter of each second, bursts of 2 s
 * const share = shares.acquire(userId); // when a connection is welcomed
 * const started = performance.now();
 * // …handle one of its messages
 * share.spend(performance.now() - started);
 * if (share.waitMs() > 0) await new Promise((resume) => setTimeout(resume, share.waitMs()));
 * shares.release(userId); // when it closes
 */
export class WorkShares {
  private readonly shares = new Map<string, WorkShare>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(
    private readonly msPerSecond: number,
    private readonly burstMs: number,
  ) {
    this.sweeper = setInterval(() => this.forgetRefilled(), 10_000);
    this.sweeper.unref();
  }

  acquire(key: string): WorkShare {
    let share = this.shares.get(key);
    if (share === undefined) this.shares.set(key, (share = new WorkShare(this, this.msPerSecond, this.burstMs)));
    share.users++;
    return share;
  }

  release(key: string): void {
    const share = this.shares.get(key);
    if (share === undefined) return;
    if (--share.users === 0) share.lastActive = performance.now();
  }

  /** Whether another user was served within the last second. */
  isAnyoneElseActive(share: WorkShare): boolean {
    const since = performance.now() - CONTENTION_WINDOW_MS;
    for (const other of this.shares.values())
      if (other !== share && other.users > 0 && other.lastActive >= since) return true;
    return false;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  /** Shares nobody uses that have had time to refill completely are the same as new ones. */
  private forgetRefilled(): void {
    const now = performance.now();
    const refillMs = (this.burstMs / this.msPerSecond) * 1000;
    for (const [key, share] of this.shares) {
      if (share.users === 0 && now - share.lastActive > refillMs) this.shares.delete(key);
    }
  }
}
