/**
 * Replication between Trellis clients through the server process: write → remote subscription
 * callback latency with N connected clients, and sustained one-writer-to-one-observer
 * throughput. Clients live in child processes (client-host.ts); times from different processes
 * are compared on the runner's clock through each child's measured offset (ipc.ts).
 */
import { mean, percentile } from "../stats.js";
import type { Child } from "./ipc.js";

/**
 * Who the connected clients are: every one a Trellis client (`clients`: on this 2-core machine
 * their own work shares the cores with the server), or a few Trellis observers at evenly spaced
 * places in the server's send order among bare subscribed sockets (`sockets`: the server does the
 * same work; the other clients' work, which would run on their own machines, is left out).
 */
export type LatencyMode = "clients" | "sockets";

export interface LatencyResult {
  readonly clients: number;
  readonly mode: LatencyMode;
  /** Trellis clients observing (the others are bare sockets in `sockets` mode). */
  readonly observers: number;
  readonly processes: number;
  readonly writes: number;
  /** Write → a remote observer's callback, over every (write, observer) pair, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  /** Write → the first observer's callback, ms. */
  readonly firstP50Ms: number;
  /** Write → the last observer's callback, ms. */
  readonly lastP50Ms: number;
  readonly lastP99Ms: number;
  /** Connecting and subscribing every client (first result shown), s. */
  readonly setupS: number;
}

export interface ThroughputResult {
  readonly updates: number;
  /** Field changes (triples) the updates carry: one each (`updatedAt` is read from the HLC, not stored). */
  readonly fieldChanges: number;
  /** First write → the observer's callback showing the last one, ms. */
  readonly ms: number;
  readonly updatesPerSecond: number;
  readonly fieldChangesPerSecond: number;
  /** First write → the writer's last ack, ms. */
  readonly ackMs: number;
}

/** Documents every latency client subscribes to (a write updates one of them). */
const LATENCY_DOCS = 20;
/** Untimed writes before the measured ones. */
const WARMUP_WRITES = 10;
/** Trellis observers among the bare sockets in `sockets` mode: the first, the last and three between. */
const SOCKET_MODE_OBSERVERS = 5;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Follows each host's `seen` events: the latest write every observer of that host has seen. */
export class SeenTracker {
  private latest = new Map<Child, number>();
  private waiters: Array<{ child: Child; k: number; resolve: () => void }> = [];

  constructor(children: readonly Child[]) {
    for (const child of children) {
      child.on("seen", (k: number) => {
        this.latest.set(child, Math.max(k, this.latest.get(child) ?? -1));
        this.waiters = this.waiters.filter((waiter) =>
          waiter.child === child && waiter.k <= k ? (waiter.resolve(), false) : true,
        );
      });
    }
  }

  reset(): void {
    this.latest.clear();
    this.waiters = [];
  }

  /** Resolves once every observer of `child` has seen write `k`. */
  wait(child: Child, k: number): Promise<void> {
    if ((this.latest.get(child) ?? -1) >= k) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ child, k, resolve }));
  }
}

/**
 * One writer and `clients - 1` other connected clients, all subscribed to the same 20 documents
 * (see {@link LatencyMode}); the writer is on the first host, the others round-robin over the
 * hosts. Writes go one at a time: the next starts `gapMs` after every observer showed the last.
 */
export async function measureLatency(
  hosts: readonly Child[],
  seen: SeenTracker,
  options: { serverUrl: string; appId: string; clients: number; mode: LatencyMode; writes: number; gapMs: number },
): Promise<LatencyResult> {
  const { serverUrl, appId, clients, mode, writes, gapMs } = options;
  const writerHost = hosts[0]!;
  seen.reset();
  try {
    const setupStart = performance.now();
    await writerHost.call("open", { name: "writer", serverUrl, appId, expectDocs: 0, isWriter: true });
    await writerHost.call("seed", { name: "writer", docs: LATENCY_DOCS });
    const observing =
      mode === "clients"
        ? await openClients(hosts, { serverUrl, appId, others: clients - 1 })
        : await openSocketsAndObservers(hosts, { serverUrl, appId, others: clients - 1 });
    const setupS = (performance.now() - setupStart) / 1000;

    const total = WARMUP_WRITES + writes;
    const writtenAt: number[] = [];
    for (let k = 0; k < total; k++) {
      const everyone = Promise.all(observing.map((host) => seen.wait(host, k)));
      writtenAt.push(
        (await writerHost.call<number>("write", { name: "writer", k, docs: LATENCY_DOCS })) - writerHost.offsetMs,
      );
      await everyone;
      await sleep(gapMs);
    }
    const pairs: number[] = [];
    const first = new Array<number>(total).fill(Number.POSITIVE_INFINITY);
    const last = new Array<number>(total).fill(Number.NEGATIVE_INFINITY);
    let observers = 0;
    for (const host of observing) {
      const times = await host.call<Record<string, Array<number | null>>>("times", { writes: total });
      for (const [name, seenAt] of Object.entries(times)) {
        observers++;
        for (let k = WARMUP_WRITES; k < total; k++) {
          const at = seenAt[k];
          if (at === null || at === undefined) throw new Error(`observer ${name} never showed write ${k}`);
          const latency = at - host.offsetMs - writtenAt[k]!;
          pairs.push(latency);
          first[k] = Math.min(first[k]!, latency);
          last[k] = Math.max(last[k]!, latency);
        }
      }
    }
    return {
      clients,
      mode,
      observers,
      processes: hosts.length,
      writes,
      p50Ms: percentile(pairs, 50),
      p99Ms: percentile(pairs, 99),
      meanMs: mean(pairs),
      firstP50Ms: percentile(first.slice(WARMUP_WRITES), 50),
      lastP50Ms: percentile(last.slice(WARMUP_WRITES), 50),
      lastP99Ms: percentile(last.slice(WARMUP_WRITES), 99),
      setupS,
    };
  } finally {
    await Promise.all(hosts.map((host) => host.call("closeAll")));
  }
}

/** `others` Trellis observers, round-robin over the hosts; answers the hosts that have some. */
async function openClients(
  hosts: readonly Child[],
  options: { serverUrl: string; appId: string; others: number },
): Promise<Child[]> {
  const names = hosts.map(() => [] as string[]);
  for (let i = 1; i <= options.others; i++) names[i % hosts.length]!.push(`c${i}`);
  const { serverUrl, appId } = options;
  await Promise.all(
    hosts.map((host, h) =>
      names[h]!.length === 0
        ? undefined
        : host.call("openMany", { names: names[h], serverUrl, appId, expectDocs: LATENCY_DOCS }),
    ),
  );
  return hosts.filter((_, h) => names[h]!.length > 0);
}

/**
 * `others` connections in subscription order (the order the server sends a change in), all bare
 * sockets except Trellis observers at evenly spaced places, the first and the last included.
 * Answers the hosts of the observers.
 */
async function openSocketsAndObservers(
  hosts: readonly Child[],
  options: { serverUrl: string; appId: string; others: number },
): Promise<Child[]> {
  const { serverUrl, appId, others } = options;
  const count = Math.min(SOCKET_MODE_OBSERVERS, others);
  const places = new Set(
    Array.from({ length: count }, (_, j) => (count === 1 ? others : 1 + Math.round((j * (others - 1)) / (count - 1)))),
  );
  let waiting = hosts.map(() => [] as string[]);
  // Sockets between two observers connect together; the observer after them waits until they have.
  const openWaiting = async () => {
    await Promise.all(
      hosts.map((host, h) =>
        waiting[h]!.length === 0 ? undefined : host.call("openSockets", { names: waiting[h], serverUrl, appId }),
      ),
    );
    waiting = hosts.map(() => []);
  };
  const observing = new Set<Child>();
  let opened = 0;
  for (let i = 1; i <= others; i++) {
    if (!places.has(i)) {
      waiting[i % hosts.length]!.push(`s${i}`);
      continue;
    }
    await openWaiting();
    // Observers alternate over the hosts, starting away from the writer's.
    const host = hosts[++opened % hosts.length]!;
    await host.call("openMany", { names: [`o${i}`], serverUrl, appId, expectDocs: LATENCY_DOCS });
    observing.add(host);
  }
  await openWaiting();
  return [...observing];
}

/**
 * A writer (first host) streams `updates` updates over `docs` documents, `perTurn` per
 * event-loop turn; an observer (second host) subscribed to all of them. Timed from the first
 * write to the observer's callback showing the last update.
 */
export async function measureThroughput(
  hosts: readonly Child[],
  options: { serverUrl: string; appId: string; docs: number; updates: number; perTurn: number },
): Promise<ThroughputResult> {
  const { serverUrl, appId, docs, updates, perTurn } = options;
  const writerHost = hosts[0]!;
  const observerHost = hosts[1 % hosts.length]!;
  try {
    await writerHost.call("open", { name: "tp-writer", serverUrl, appId, expectDocs: 0, isWriter: true });
    await writerHost.call("seed", { name: "tp-writer", docs });
    await observerHost.call("open", { name: "tp-observer", serverUrl, appId, expectDocs: docs });
    await observerHost.call("watch", { name: "tp-observer", k: updates - 1 });
    const stream = await writerHost.call<{ start: number; issued: number; acked: number }>("stream", {
      name: "tp-writer",
      updates,
      perTurn,
      docs,
    });
    const seenAt = (await observerHost.call<number>("watched", { name: "tp-observer" })) - observerHost.offsetMs;
    const start = stream.start - writerHost.offsetMs;
    const ms = seenAt - start;
    return {
      updates,
      fieldChanges: updates,
      ms,
      updatesPerSecond: (updates / ms) * 1000,
      fieldChangesPerSecond: (updates / ms) * 1000,
      ackMs: stream.acked - stream.start,
    };
  } finally {
    await Promise.all(hosts.map((host) => host.call("closeAll")));
  }
}
