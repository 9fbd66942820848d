import { effect } from "@preact/signals-core";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../testing/live-server.js";
import { createFakeLocks } from "./fake-locks.js";
import { electLeader, type LeaderElection } from "./leader-election.js";
import { type SimulatedPage, simulatePage } from "./page-environment.js";

const elections: LeaderElection[] = [];
const pages: SimulatedPage[] = [];
afterEach(() => {
  for (const election of elections.splice(0)) election.close();
  for (const page of pages.splice(0)) page.dispose();
});

/** A tab's page that the test freezes or blocks. */
function page(tabId: string): SimulatedPage {
  const simulated = simulatePage(tabId);
  pages.push(simulated);
  return simulated;
}

/**
 * Fast timing: a heartbeat every 20 ms, suspicion after 150 ms of silence, takeover after 400 ms.
 * The margins stay wide so a busy machine stalling the test process for tens of milliseconds is
 * not taken for a silent leader.
 */
const timing = { heartbeatMs: 20, suspectMs: 150, timeoutMs: 400, claimMs: 30 };
const leaders = (list: LeaderElection[]) => list.filter((election) => election.isLeader.value).length;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function elect(options: Parameters<typeof electLeader>[0]): LeaderElection {
  const election = electLeader(options);
  elections.push(election);
  return election;
}

describe("leader election with Web Locks", () => {
  it("lets the lock holder lead and hands over to the next waiting tab when it closes", async () => {
    const locks = createFakeLocks();
    const first = elect({ appId: "a", tabId: "t1", locks });
    const second = elect({ appId: "a", tabId: "t2", locks });
    const third = elect({ appId: "a", tabId: "t3", locks });
    await waitFor(() => first.isLeader.value, "the first tab leads");
    expect([second.isLeader.value, third.isLeader.value]).toEqual([false, false]);
    // A waiting tab that closes gives up its place.
    second.close();
    first.close();
    await waitFor(() => third.isLeader.value, "the waiting tab takes over");
    expect(second.isLeader.value).toBe(false);
  });

  it("keeps apps apart", async () => {
    const locks = createFakeLocks();
    const one = elect({ appId: "a", tabId: "t1", locks });
    const other = elect({ appId: "b", tabId: "t2", locks });
    await waitFor(() => one.isLeader.value && other.isLeader.value, "each app has a leader");
  });

  it("steals the lock from a leader that stopped beating, and the old leader follows", async () => {
    const locks = createFakeLocks();
    const busy = page("busy-1");
    const first = elect({ appId: "steal", tabId: "busy-1", locks, timing, page: busy });
    await waitFor(() => first.isLeader.value, "the first tab leads");
    const second = elect({ appId: "steal", tabId: "other-1", locks, timing, page: page("other-1") });
    await sleep(200);
    expect([first.isLeader.value, second.isLeader.value, second.hasLeader.value]).toEqual([true, false, true]);
    // A long task: the leader's timers stop, its message handlers and lock requests do not matter.
    busy.block();
    await waitFor(() => !second.hasLeader.value, "the follower suspects the silent leader");
    await waitFor(() => second.isLeader.value, "the follower takes over");
    await waitFor(() => !first.isLeader.value, "the stolen lock's request rejects: the old leader steps down");
    busy.unblock();
    await sleep(200);
    expect([first.isLeader.value, second.isLeader.value]).toEqual([false, true]);
    expect([first.hasLeader.value, second.hasLeader.value]).toEqual([true, true]);
    // The old leader waits in line again: it leads once the new one goes.
    second.close();
    await waitFor(() => first.isLeader.value, "the old leader leads again");
  });

  it("hands leadership over at once when the leader's page freezes, and asks again on resume", async () => {
    const locks = createFakeLocks();
    const frozen = page("frozen-1");
    const first = elect({
      appId: "freeze",
      tabId: "frozen-1",
      locks,
      timing: { ...timing, timeoutMs: 60_000 },
      page: frozen,
    });
    await waitFor(() => first.isLeader.value, "the first tab leads");
    const second = elect({
      appId: "freeze",
      tabId: "other-2",
      locks,
      timing: { ...timing, timeoutMs: 60_000 },
      page: page("other-2"),
    });
    frozen.freeze();
    // Handed over, not taken over: far sooner than the (long) takeover timeout.
    expect(first.isLeader.value).toBe(false);
    await waitFor(() => second.isLeader.value, "the waiting tab leads", 1_000);
    frozen.resume();
    await sleep(100);
    expect([first.isLeader.value, second.isLeader.value]).toEqual([false, true]);
    second.close();
    await waitFor(() => first.isLeader.value, "the resumed tab waited in line and leads");
  });

  it("keeps one leader among several followers when the leader goes silent", async () => {
    const locks = createFakeLocks();
    const silent = page("silent-1");
    const first = elect({ appId: "many", tabId: "silent-1", locks, timing, page: silent });
    await waitFor(() => first.isLeader.value, "the first tab leads");
    const others = ["f1", "f2", "f3"].map((tabId) => elect({ appId: "many", tabId, locks, timing, page: page(tabId) }));
    await sleep(100);
    silent.block();
    await waitFor(
      () => leaders(others) === 1 && !first.isLeader.value,
      () => `one follower took over (${leaders(others)} lead)`,
    );
    silent.unblock();
    await sleep(400);
    expect(leaders([first, ...others])).toBe(1);
  });
});

describe("leader election over BroadcastChannel (no Web Locks)", () => {
  it("elects exactly one of several tabs started together, and stays with it", async () => {
    const list = ["t3", "t1", "t2"].map((tabId) => elect({ appId: "lease-together", tabId, timing, locks: undefined }));
    await waitFor(() => leaders(list) === 1, "one leader");
    const leader = list.find((election) => election.isLeader.value);
    let changes = 0;
    const stops = list.map((election) => effect(() => void (election.isLeader.value && changes++)));
    await new Promise((resolve) => setTimeout(resolve, 400));
    stops.forEach((stop) => stop());
    expect(leaders(list)).toBe(1);
    expect(list.find((election) => election.isLeader.value)).toBe(leader);
    expect(changes).toBe(1);
  });

  it("lets the lowest waiting tab take over when the leader resigns", async () => {
    const first = elect({ appId: "lease-handover", tabId: "t1", timing });
    await waitFor(() => first.isLeader.value, "the only tab leads");
    const second = elect({ appId: "lease-handover", tabId: "t2", timing });
    const third = elect({ appId: "lease-handover", tabId: "t3", timing });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(leaders([second, third])).toBe(0);
    first.close();
    await waitFor(() => leaders([second, third]) === 1, "one of the others takes over");
    expect(second.isLeader.value).toBe(true);
  });

  it("replaces a silent leader, which steps down when it hears the later term", async () => {
    const busy = page("lease-busy");
    const first = elect({ appId: "lease-silent", tabId: "lease-busy", timing, page: busy });
    await waitFor(() => first.isLeader.value, "the first tab leads");
    const second = elect({ appId: "lease-silent", tabId: "lease-other", timing, page: page("lease-other") });
    await sleep(200);
    expect(second.isLeader.value).toBe(false);
    busy.block();
    await waitFor(() => second.isLeader.value, "the follower claims and leads");
    busy.unblock();
    await waitFor(() => !first.isLeader.value, "the old leader steps down");
    await sleep(200);
    expect([first.isLeader.value, second.isLeader.value]).toEqual([false, true]);
  });

  it("resigns when the leader's page freezes, and comes back as a follower", async () => {
    const frozen = page("lease-frozen");
    const first = elect({
      appId: "lease-freeze",
      tabId: "lease-frozen",
      timing: { ...timing, timeoutMs: 60_000 },
      page: frozen,
    });
    await waitFor(() => first.isLeader.value, "the first tab leads");
    const second = elect({
      appId: "lease-freeze",
      tabId: "lease-next",
      timing: { ...timing, timeoutMs: 60_000 },
      page: page("lease-next"),
    });
    await sleep(100);
    frozen.freeze();
    await waitFor(() => second.isLeader.value, "the other tab claims at once", 1_000);
    frozen.resume();
    await sleep(200);
    expect([first.isLeader.value, second.isLeader.value]).toEqual([false, true]);
  });
});
