/** How many seconds a {@link RateWindow} averages over. */
const SECONDS = 10;

/**
 * Counts events per second over the last ten seconds, in ten buckets (no timers: stale buckets
 * are cleared as time moves on), for an app's writes per second in the admin API's metrics.
 *
 * @example
 * const writes = new RateWindow();
 * writes.add(triples.length); // after each applied batch
 * writes.perSecond(); // average over the last 10 s
 */
export class RateWindow {
  private readonly buckets = new Array<number>(SECONDS).fill(0);
  private second: number;

  constructor(private readonly clock: () => number = () => Date.now()) {
    this.second = Math.floor(clock() / 1000);
  }

  add(count: number): void {
    this.advance();
    this.buckets[this.second % SECONDS]! += count;
  }

  /** Events per second over the last ten seconds. */
  perSecond(): number {
    this.advance();
    return this.buckets.reduce((sum, each) => sum + each, 0) / SECONDS;
  }

  private advance(): void {
    const now = Math.floor(this.clock() / 1000);
    for (let second = Math.max(this.second + 1, now - SECONDS + 1); second <= now; second++)
      this.buckets[second % SECONDS] = 0;
    this.second = Math.max(this.second, now);
  }
}
