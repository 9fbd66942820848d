import { describe, expect, it } from "vitest";
import { createMemoryStorage } from "./memory-storage.js";
import { createQuotaWatcher, type QuotaEstimate, type StorageEstimateLike, watchQuota } from "./quota-watcher.js";

/** A fake clock with timers, and an estimate whose usage the test sets. */
function fakes(initialUsage = 0, quota = 1000) {
  let time = 0;
  const timers: { at: number; callback: () => void; isCancelled: boolean }[] = [];
  const state = { usage: initialUsage, reads: 0 };
  return {
    state,
    options: {
      estimate: async (): Promise<StorageEstimateLike> => {
        state.reads++;
        return { usage: state.usage, quota };
      },
      now: () => time,
      setTimer: (callback: () => void, ms: number) => {
        const timer = { at: time + ms, callback, isCancelled: false };
        timers.push(timer);
        return () => void (timer.isCancelled = true);
      },
    },
    /** Moves the clock on, firing due timers, then lets the estimate promises settle. */
    async advance(ms: number) {
      time += ms;
      for (const timer of timers.splice(0)) {
        if (timer.isCancelled) continue;
        if (timer.at <= time) timer.callback();
        else timers.push(timer);
      }
      await settle();
    },
    pendingTimers: () => timers.filter((timer) => !timer.isCancelled).length,
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("createQuotaWatcher", () => {
  it("warns once when usage crosses above the threshold", async () => {
    const fake = fakes(100);
    const watcher = createQuotaWatcher({ ...fake.options, intervalMs: 10 });
    const warnings: QuotaEstimate[] = [];
    watcher.onQuota((estimate) => warnings.push(estimate));
    watcher.check();
    await settle();
    expect(warnings).toEqual([]);

    fake.state.usage = 850;
    await fake.advance(10);
    watcher.check();
    await settle();
    expect(warnings).toEqual([{ usage: 850, quota: 1000, ratio: 0.85 }]);

    fake.state.usage = 950; // still above: no second warning
    await fake.advance(10);
    watcher.check();
    await settle();
    expect(fake.state.reads).toBe(3);
    expect(warnings).toHaveLength(1);
  });

  it("warns again only after usage fell below the threshold and crossed it again", async () => {
    const fake = fakes(900);
    const watcher = createQuotaWatcher({ ...fake.options, intervalMs: 10, threshold: 0.5 });
    const ratios: number[] = [];
    watcher.onQuota(({ ratio }) => ratios.push(ratio));
    for (const usage of [900, 600, 400, 700, 800]) {
      fake.state.usage = usage;
      watcher.check();
      await fake.advance(10);
    }
    expect(ratios).toEqual([0.9, 0.7]);
  });

  it("reads at most once per interval, and once more at its end for checks in between", async () => {
    const fake = fakes(0);
    const watcher = createQuotaWatcher({ ...fake.options, intervalMs: 10_000 });
    watcher.check(); // at open
    for (let commit = 0; commit < 50; commit++) {
      watcher.check();
      await fake.advance(100);
    }
    expect(fake.state.reads).toBe(1);
    expect(fake.pendingTimers()).toBe(1);
    await fake.advance(5_000); // 10 s after the first reading: the deferred one runs
    expect(fake.state.reads).toBe(2);
    expect(fake.pendingTimers()).toBe(0);
    await fake.advance(60_000);
    expect(fake.state.reads).toBe(2); // no commits, no readings
  });

  it("reports a crossing seen by estimate() too, and returns the reading", async () => {
    const fake = fakes(990);
    const watcher = createQuotaWatcher(fake.options);
    const warnings: QuotaEstimate[] = [];
    const stop = watcher.onQuota((estimate) => warnings.push(estimate));
    expect(await watcher.estimate()).toEqual({ usage: 990, quota: 1000, ratio: 0.99 });
    expect(warnings).toHaveLength(1);
    stop();
    fake.state.usage = 0;
    await watcher.estimate();
    fake.state.usage = 990;
    await watcher.estimate();
    expect(warnings).toHaveLength(1); // unsubscribed
  });

  it("never reads nor warns without an estimate API", async () => {
    const fake = fakes(1000);
    const watcher = createQuotaWatcher({ ...fake.options, estimate: undefined });
    let warnings = 0;
    watcher.onQuota(() => warnings++);
    watcher.check();
    await fake.advance(60_000);
    watcher.check();
    expect(await watcher.estimate()).toBeUndefined();
    expect(warnings).toBe(0);
    expect(fake.pendingTimers()).toBe(0);
  });

  it("treats a failing or empty estimate as no reading", async () => {
    const failing = createQuotaWatcher({ estimate: () => Promise.reject(new Error("denied")) });
    expect(await failing.estimate()).toBeUndefined();
    const empty = createQuotaWatcher({ estimate: async () => ({}) });
    expect(await empty.estimate()).toBeUndefined();
    const zero = createQuotaWatcher({ estimate: async () => ({ usage: 0, quota: 0 }) });
    expect(await zero.estimate()).toBeUndefined();
  });

  it("cancels its deferred reading when closed", async () => {
    const fake = fakes(999);
    const watcher = createQuotaWatcher({ ...fake.options, intervalMs: 10 });
    let warnings = 0;
    watcher.onQuota(() => warnings++);
    watcher.check();
    watcher.check();
    await settle();
    watcher.close();
    await fake.advance(100);
    watcher.check();
    await settle();
    expect(fake.state.reads).toBe(1);
    expect(warnings).toBe(1);
  });
});

describe("watchQuota", () => {
  it("leaves memory storage and no storage unwatched", async () => {
    const fake = fakes(999);
    for (const storage of [undefined, createMemoryStorage()]) {
      const watched = watchQuota(storage, fake.options);
      expect(watched.storage).toBe(storage);
      let warnings = 0;
      watched.quota.onQuota(() => warnings++);
      watched.quota.check();
      expect(await watched.quota.estimate()).toBeUndefined();
      expect(warnings).toBe(0);
    }
    expect(fake.state.reads).toBe(0);
  });

  it("checks IndexedDB storage once opened and after commits that succeeded", async () => {
    const fake = fakes(0);
    const inner = { ...createMemoryStorage(), kind: "indexeddb" };
    const { storage, quota } = watchQuota(inner, { ...fake.options, intervalMs: 0 });
    await storage!.open();
    await settle();
    expect(fake.state.reads).toBe(1);
    await storage!.commit({ documents: [], added: [], acknowledged: [], cursors: new Map(), clock: "x" });
    await settle();
    expect(fake.state.reads).toBe(2);
    await storage!.close();
    quota.check();
    await settle();
    expect(fake.state.reads).toBe(2);
  });
});
