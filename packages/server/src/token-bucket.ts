/**
 * A token bucket: `burst` tokens at most, refilled at `perSecond`. Each `take` spends one; none
 * left means the caller is over its rate and should drop the message. `spend` takes any amount
 * after the fact (work already done), so the balance can go below zero: `msUntilPositive` then
 * says how long until the rate has paid it back.
 *
 * @example
 * const rooms = new TokenBucket(200, 400); // 200 room messages a second, bursts of 400
 * if (!rooms.take()) return fail("VALIDATION", "Too many room messages: this one was dropped.");
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = clock();
  }

  /** Spends a token; false when none is left. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Spends `amount`, however many tokens are left; answers the balance after it. */
  spend(amount: number): number {
    this.refill();
    this.tokens -= amount;
    return this.tokens;
  }

  /** Whether a whole token is left (without spending it). */
  hasToken(): boolean {
    this.refill();
    return this.tokens >= 1;
  }

  /** Milliseconds until the balance is above zero again (0 if it is). */
  msUntilPositive(): number {
    this.refill();
    return this.tokens > 0 ? 0 : (-this.tokens / this.perSecond) * 1000 + 1;
  }

  private refill(): void {
    const now = this.clock();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
  }
}
