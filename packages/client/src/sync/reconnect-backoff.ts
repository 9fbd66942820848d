/** Reconnect delays: full jitter over `baseMs * 2^attempt`, capped at `maxMs`. */
export interface ReconnectOptions {
  /** Default 250. */
  readonly baseMs?: number;
  /** Default 10 000. */
  readonly maxMs?: number;
}

/**
 * How long to wait before reconnect attempt number `attempt` (0 after a success): exponential
 * backoff with full jitter, so that clients dropped together by a server restart do not all
 * come back at once. `random` is in [0, 1).
 *
 * @example
 * backoffDelay(0, Math.random, {}); // somewhere in [0, 250) ms
 * backoffDelay(3, Math.random, { baseMs: 100, maxMs: 1_000 }); // in [0, 800) ms
 */
export function backoffDelay(attempt: number, random: () => number, options: ReconnectOptions = {}): number {
  return Math.floor(random() * Math.min(options.maxMs ?? 10_000, (options.baseMs ?? 250) * 2 ** attempt));
}
