import { numberFrom } from "../config.js";

/**
 * Sizes of a sync benchmark run, read from the environment once by the runner. The full run
 * uses the sizes; `--smoke` (or BENCH_SMOKE=1) uses tiny ones that only check every
 * phase runs end to end.
 */
export interface SyncConfig {
  readonly isSmoke: boolean;
  /** Connected Trellis clients of each latency run (all subscribed to one query). */
  readonly clientCounts: readonly number[];
  /** Child processes the clients of a latency run are spread over. */
  readonly hostProcesses: number;
  /** Measured writes per latency run, by client count (fewer for the large runs). */
  readonly latencyWrites: (clients: number) => number;
  /** Idle time between two measured writes, so each one meets a quiet system. */
  readonly latencyGapMs: number;
  /** Replication throughput: documents the observer holds, and updates streamed to them. */
  readonly throughputDocs: number;
  readonly throughputUpdates: number;
  /** Updates the writer issues per event-loop turn (writes of one turn share a frame). */
  readonly throughputPerTurn: number;
  /** Server ingest: documents written as 4 new cells each, then one field of each updated. */
  readonly ingestDocs: number;
  /** Triples per pushed frame (and per SQLite floor transaction), and frames in flight. */
  readonly ingestBatch: number;
  readonly ingestWindow: number;
  /** Initial load over HTTP: timed repetitions of the query of all `ingestDocs` documents. */
  readonly loadReps: number;
  /** Fan-out: subscribed sockets, and measured writes. */
  readonly fanOutSockets: number;
  readonly fanOutWrites: number;
  /** Room events: room sizes (other members), events timed per size, Trellis observers among the members. */
  readonly roomSizes: readonly number[];
  readonly roomEvents: number;
  readonly roomObservers: number;
  /** Cursors: members, updates per second each, and how long they send. */
  readonly cursorMembers: number;
  readonly cursorHz: number;
  readonly cursorMs: number;
  /** Plain `ws` round trips timed for the floor. */
  readonly roundTrips: number;
  /** Under attack: writes timed quiet and under attack, and the triples of the large push. */
  readonly attackWrites: number;
  readonly largePushTriples: number;
  /** Permission rules: documents of the snapshot, subscribers and writes of the live phase, timed pushes, revocations. */
  readonly rules: {
    readonly docs: number;
    readonly subscribers: number;
    readonly writes: number;
    readonly pushes: number;
    readonly revocations: number;
  };
  /** Connections set up one after another per way of checking tokens. */
  readonly authConnections: number;
  /** Kills a phase that hangs. */
  readonly phaseTimeoutMs: number;
}

function countsFrom(env: NodeJS.ProcessEnv, fallback: readonly number[]): readonly number[] {
  const raw = env.BENCH_SYNC_CLIENTS;
  if (raw === undefined || raw.trim() === "") return fallback;
  const counts = raw.split(",").map(Number);
  if (counts.some((count) => !Number.isSafeInteger(count) || count < 2)) {
    throw new Error(
      `BENCH_SYNC_CLIENTS must list whole numbers >= 2 (a writer and an observer), got ${JSON.stringify(raw)}.`,
    );
  }
  return counts;
}

/**
 * Reads BENCH_SMOKE, BENCH_SYNC_CLIENTS (e.g. "10,100"), BENCH_SYNC_HOSTS, BENCH_SYNC_WRITES.
 *
 * @example
 * const config = syncConfigFromEnv(process.env, process.argv.includes("--smoke"));
 */
export function syncConfigFromEnv(env: NodeJS.ProcessEnv, smokeFlag: boolean): SyncConfig {
  const isSmoke = smokeFlag || env.BENCH_SMOKE === "1";
  const writes = env.BENCH_SYNC_WRITES === undefined ? undefined : Math.ceil(numberFrom(env, "BENCH_SYNC_WRITES", 1));
  if (isSmoke) {
    return {
      isSmoke,
      clientCounts: countsFrom(env, [4, 10]),
      hostProcesses: 2,
      latencyWrites: () => writes ?? 20,
      latencyGapMs: 2,
      throughputDocs: 50,
      throughputUpdates: 500,
      throughputPerTurn: 50,
      ingestDocs: 1_000,
      ingestBatch: 500,
      ingestWindow: 4,
      loadReps: 1,
      fanOutSockets: 10,
      fanOutWrites: 20,
      roomSizes: [4, 10],
      roomEvents: 20,
      roomObservers: 2,
      cursorMembers: 5,
      cursorHz: 60,
      cursorMs: 1_000,
      roundTrips: 200,
      attackWrites: 30,
      largePushTriples: 20_000,
      rules: { docs: 1_000, subscribers: 10, writes: 20, pushes: 20, revocations: 20 },
      authConnections: 20,
      phaseTimeoutMs: 20_000,
    };
  }
  return {
    isSmoke,
    clientCounts: countsFrom(env, [10, 100, 1_000]),
    hostProcesses: Math.ceil(numberFrom(env, "BENCH_SYNC_HOSTS", 2)),
    latencyWrites: (clients) => writes ?? (clients >= 1_000 ? 100 : 300),
    latencyGapMs: 5,
    throughputDocs: 1_000,
    throughputUpdates: 20_000,
    throughputPerTurn: 100,
    ingestDocs: 100_000,
    ingestBatch: 2_000,
    ingestWindow: 4,
    loadReps: 3,
    fanOutSockets: 100,
    fanOutWrites: 200,
    roomSizes: [10, 100],
    roomEvents: 300,
    roomObservers: 3,
    cursorMembers: Math.ceil(numberFrom(env, "BENCH_SYNC_CURSOR_MEMBERS", 50)),
    cursorHz: 60,
    cursorMs: 10_000,
    roundTrips: 2_000,
    attackWrites: 300,
    largePushTriples: 500_000,
    rules: { docs: 10_000, subscribers: 100, writes: 200, pushes: 300, revocations: 200 },
    authConnections: 500,
    phaseTimeoutMs: 120_000,
  };
}
