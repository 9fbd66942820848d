import { effect } from "@preact/signals-core";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../testing/live-server.js";
import { electLeader, type LeaderElection, type LockManagerLike } from "./leader-election.js";

const elections: LeaderElection[] = [];
afterEach(() => {
  for (const election of elections.splice(0)) election.close();
});

function elect(options: Parameters<typeof electLeader>[0]): LeaderElection {
  const election = electLeader(options);
  elections.push(election);
  return election;
}

/** An in-process lock manager with the Web Locks semantics used: exclusive, FIFO, abortable. */
function fakeLocks(): LockManagerLike {
  const queues = new Map<string, (() => void)[]>();
  const held = new Set<string>();
  return {
    request(name, options, callback) {
      return new Promise((resolve, reject) => {
        const grant = () => {
          held.add(name);
          void callback().then(() => {
            held.delete(name);
            queues.get(name)?.shift()?.();
            resolve(undefined);
          });
        };
        if (!held.has(name)) return grant();
        const queue = queues.get(name) ?? [];
        queues.set(name, queue);
        queue.push(grant);
        options.signal?.addEventListener("abort", () => {
          const index = queue.indexOf(grant);
          if (index >= 0) queue.splice(index, 1);
          reject(new DOMException("aborted", "AbortError"));
        });
      });
    },
  };
}

describe("leader election with Web Locks", () => {
  it("lets the lock holder lead and hands over to the next waiting tab when it closes", async () => {
    const locks = fakeLocks();
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
    const locks = fakeLocks();
    const one = elect({ appId: "a", tabId: "t1", locks });
    const other = elect({ appId: "b", tabId: "t2", locks });
    await waitFor(() => one.isLeader.value && other.isLeader.value, "each app has a leader");
  });
});

describe("leader election over BroadcastChannel (no Web Locks)", () => {
  const timing = { heartbeatMs: 20, timeoutMs: 150, claimMs: 30 };
  const leaders = (list: LeaderElection[]) => list.filter((election) => election.isLeader.value).length;

  it("elects exactly one of several tabs started together, and stays with it", async () => {
    const list = ["t3", "t1", "t2"].map((tabId) => elect({ appId: "lease-together", tabId, timing }));
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
});
