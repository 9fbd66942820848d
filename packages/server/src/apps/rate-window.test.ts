import { describe, expect, it } from "vitest";
import { RateWindow } from "./rate-window.js";

describe("RateWindow", () => {
  it("averages events over the last ten seconds and forgets older ones", () => {
    let now = 1_000_000;
    const window = new RateWindow(() => now);
    window.add(30);
    now += 1_000;
    window.add(20);
    expect(window.perSecond()).toBe(5);
    now += 9_000; // the first second is now out of the window
    expect(window.perSecond()).toBe(2);
    now += 60_000;
    expect(window.perSecond()).toBe(0);
    window.add(10);
    expect(window.perSecond()).toBe(1);
  });
});
