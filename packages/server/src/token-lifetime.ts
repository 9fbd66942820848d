/** Longest delay `setTimeout` takes; later deadlines are reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a connection does as its token runs out. */
export interface TokenEvents {
  /** The token expires in `refreshWithinMs`: ask the client for a fresh one. */
  readonly expiring: (refreshWithinMs: number) => void;
  /** The token expired and no fresh one came: close the connection. */
  readonly expired: () => void;
}

/**
 * Follows the expiry of a connection's token. Some time before it (`leadMs`, or half the token's
 * remaining life when that is shorter) the connection is warned, so a client can send a fresh
 * token in time; at the expiry itself, the connection ends. A fresh token starts over.
 *
 * @example
 * const lifetime = new TokenLifetime(30_000, {
 *   expiring: (refreshWithinMs) => console.log(`send a fresh token within ${refreshWithinMs} ms`),
 *   expired: () => console.log("close the connection"),
 * });
 * lifetime.follow(Date.now() + 3_600_000); // the token's expiresAt; again with each fresh token
 * lifetime.stop(); // when the connection ends
 */
export class TokenLifetime {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly leadMs: number,
    private readonly events: TokenEvents,
    private readonly now: () => number = Date.now,
  ) {}

  /** Follows a token expiring at `expiresAt` (ms since the epoch; undefined: never). */
  follow(expiresAt: number | undefined): void {
    this.stop();
    if (expiresAt === undefined) return;
    const lead = Math.min(this.leadMs, Math.max(0, (expiresAt - this.now()) / 2));
    this.at(expiresAt - lead, () => {
      this.events.expiring(Math.max(0, expiresAt - this.now()));
      this.at(expiresAt, () => this.events.expired());
    });
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private at(time: number, run: () => void): void {
    const delay = time - this.now();
    if (delay > MAX_TIMER_MS) {
      this.timer = setTimeout(() => this.at(time, run), MAX_TIMER_MS);
      return;
    }
    this.timer = setTimeout(run, Math.max(0, delay));
  }
}
