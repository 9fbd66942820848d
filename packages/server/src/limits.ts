import { readFileSync } from "node:fs";
import { DEFAULT_MAX_QUERY_COST } from "@trellis/core";

/**
 * Bounds on what clients may make the server hold or do. Each has a default sized for one
 * process on a small machine; raise them for large deployments (docs/server.md, "Limits").
 */
export interface ServerLimits {
  /** Live queries one connection may hold at once. Default 500. */
  readonly subscriptionsPerConnection?: number;
  /**
   * Unsent bytes one connection may have queued before it is dropped as too slow. Default 64 MiB
   * (a first snapshot of a large query is sent whole over the socket).
   */
  readonly bufferedBytesPerConnection?: number;
  /**
   * Unsent bytes all connections together may have queued; over it, the connection with the
   * largest backlog is dropped. Default 512 MiB.
   */
  readonly bufferedBytes?: number;
  /** WebSocket connections in all. Default 10,000. */
  readonly connections?: number;
  /** WebSocket connections to one app. Default 5,000. */
  readonly connectionsPerApp?: number;
  /** WebSocket connections from one IP address. Default 5,000 (behind a proxy, clients share its address). */
  readonly connectionsPerIp?: number;
  /** Connections from one IP address that have not finished their `hello` yet. Default 2,000. */
  readonly handshakesPerIp?: number;
  /** How long a new connection has to send `hello` (and get `welcome`). Default 10 s. */
  readonly helloTimeoutMs?: number;
  /**
   * Apps open at once (each holds its database's file handles and its data in memory). When one
   * more is needed, the least recently used app without connections is closed first; if every
   * open app has connections, the new one is refused. Default: a quarter of the process's file
   * descriptor limit, 4 per app, at most 256.
   */
  readonly openApps?: number;
  /** Largest `/v1/query` body, in bytes. Default 1 MiB. */
  readonly maxQueryBodyBytes?: number;
  /** Request bodies all HTTP requests together may be receiving at once, in bytes. Default 256 MiB. */
  readonly bodyBytesInFlight?: number;
  /** Time to receive a request's headers. Default 10 s. */
  readonly headersTimeoutMs?: number;
  /** Time to receive a whole request, body included. Default 60 s. */
  readonly requestTimeoutMs?: number;
  /**
   * Triples of one push handled in one event-loop turn: a larger push is stored and routed in
   * slices of this size, so other apps keep being served meanwhile. Default 2,000.
   */
  readonly pushSliceTriples?: number;
  /**
   * Linked documents the relations of one query result may examine (one snapshot, or one update
   * of a live result); a query over it is refused with VALIDATION. Default 100,000, as in clients.
   */
  readonly queryCost?: number;
  /**
   * Server time one user's messages and queries may take while other users want the server (all
   * its connections together, in one app, across reconnects), on average per second, so that no
   * client can keep the server busy for the others: a user over it is not read (its messages wait
   * in the network) until it is back under. Writes do not count. A user alone on the server is
   * never slowed down. Default 50 ms a second, `workBurstMs` (1 s) at once.
   */
  readonly workMsPerSecond?: number;
  readonly workBurstMs?: number;
  /** After a connection's token expires, how long it has to send a fresh one before it is closed. Default 30 s. */
  readonly tokenRefreshMs?: number;
  /**
   * Triples per message of a large snapshot: a larger answer goes as `snapshotPart` messages of
   * whole documents (with how many of the total were sent, for the client's progress), then its
   * `snapshot`. Default 20,000.
   */
  readonly snapshotPartTriples?: number;
}

/** {@link ServerLimits} with every default filled in. */
export type ResolvedLimits = { readonly [K in keyof ServerLimits]-?: number };

const MiB = 1024 * 1024;

/**
 * Fills in defaults and checks each given limit is a positive whole number.
 *
 * @example resolveLimits({ connectionsPerIp: 50 }).connectionsPerIp // 50
 */
export function resolveLimits(limits: ServerLimits | undefined): ResolvedLimits {
  const defaults: ResolvedLimits = {
    subscriptionsPerConnection: 500,
    bufferedBytesPerConnection: 64 * MiB,
    bufferedBytes: 512 * MiB,
    connections: 10_000,
    connectionsPerApp: 5_000,
    connectionsPerIp: 5_000,
    handshakesPerIp: 2_000,
    helloTimeoutMs: 10_000,
    openApps: defaultOpenApps(),
    maxQueryBodyBytes: MiB,
    bodyBytesInFlight: 256 * MiB,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 60_000,
    pushSliceTriples: 2_000,
    tokenRefreshMs: 30_000,
    queryCost: DEFAULT_MAX_QUERY_COST,
    workMsPerSecond: 50,
    workBurstMs: 1_000,
    snapshotPartTriples: 20_000,
  };
  const resolved: Record<string, number> = { ...defaults };
  for (const [name, value] of Object.entries(limits ?? {})) {
    if (!Object.hasOwn(defaults, name))
      throw new TypeError(`createServer: unknown limit "${name}" (known: ${Object.keys(defaults).join(", ")}).`);
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new TypeError(`createServer: limits.${name} must be a positive whole number, got ${value}.`);
    resolved[name] = value;
  }
  return resolved as ResolvedLimits;
}

/**
 * Each open app holds 4 descriptors (database, WAL, shared memory, and the database once more,
 * which SQLite keeps after the checkpoint worker's connection closed); apps get a quarter of the
 * budget.
 */
function defaultOpenApps(): number {
  return Math.max(1, Math.min(256, Math.floor(openFileLimit() / 4 / DESCRIPTORS_PER_APP)));
}

const DESCRIPTORS_PER_APP = 4;

/** The soft limit on open files, from /proc on Linux; 1024 (the usual default) elsewhere. */
function openFileLimit(): number {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (match) return Number(match[1]);
  } catch {
    // Not Linux: assume the common default.
  }
  return 1024;
}
