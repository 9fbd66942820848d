/** Reconnect delays: full jitter over `baseMs * 2^attempt`, capped at `maxMs`. */
export interface ReconnectOptions {
  /** Default 250. */
  readonly baseMs?: number;
  /** Default 10 000. */
  readonly maxMs?: number;
}

/**
 * How long to wait before the next connection attempt: exponential backoff with full jitter,
 * so that clients dropped together by a server restart do not all come back at once.
 *
 * @example
 * const backoff = new ReconnectBackoff(Math.random, { baseMs: 250, maxMs: 10_000 });
 * backoff.nextDelay(); // somewhere in [0, 250) ms, then [0, 500), [0, 1000)… up to [0, 10 000)
 * backoff.reset(); // welcomed: the next loss starts from the base again
 */
export class ReconnectBackoff {
  private readonly baseMs: number;
  private readonly maxMs: number;
  /** Attempts since the last {@link reset}. */
  private attempt = 0;

  /** `random` is in [0, 1): the jitter. */
  constructor(
    private readonly random: () => number,
    options: ReconnectOptions = {},
  ) {
    this.baseMs = options.baseMs ?? 250;
    this.maxMs = options.maxMs ?? 10_000;
  }

  /** The delay before the next attempt, in ms; each call counts as an attempt. */
  nextDelay(): number {
    const delay = Math.floor(this.random() * Math.min(this.maxMs, this.baseMs * 2 ** this.attempt));
    this.attempt++;
    return delay;
  }

  /** Attempts made since the last {@link reset}. */
  get attempts(): number {
    return this.attempt;
  }

  /** A connection succeeded: start over from the base delay. */
  reset(): void {
    this.attempt = 0;
  }
}
