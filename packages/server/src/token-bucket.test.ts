import { describe, expect, it } from "vitest";
import { TokenBucket } from "./token-bucket.js";

describe("TokenBucket", () => {
  it("allows a burst, then the rate", () => {
    let now = 0;
    const bucket = new TokenBucket(10, 3, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    now += 100; // one token
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    now += 10_000; // refills to the burst, no further
    expect(Array.from({ length: 4 }, () => bucket.take())).toEqual([true, true, true, false]);
  });
});

describe("TokenBucket.spend", () => {
  it("goes below zero for work already done, and says when the rate has paid it back", () => {
    let now = 0;
    const bucket = new TokenBucket(100, 200, () => now);
    expect(bucket.spend(50)).toBe(150);
    expect(bucket.msUntilPositive()).toBe(0);
    expect(bucket.spend(300)).toBe(-150);
    // 150 tokens at 100 a second: 1.5 s, and a millisecond to be above zero.
    expect(bucket.msUntilPositive()).toBe(1_501);
    now += 1_501;
    expect(bucket.msUntilPositive()).toBe(0);
    expect(bucket.take()).toBe(false);
    now += 10; // one more token
    expect(bucket.take()).toBe(true);
  });
});
