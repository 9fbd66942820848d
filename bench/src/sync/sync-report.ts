/** Turns the sync benchmark's results into printed tables, same-run ratios and the issue's targets. */
import { formatValue as f, table } from "../report.js";
import type { CpuPinning } from "./cpu-pinning.js";
import type { FanOutResult } from "./fan-out.js";
import type { RateResult } from "./ingest.js";
import type { LoadResult } from "./initial-load.js";
import type { LatencyMode, LatencyResult, ThroughputResult } from "./replication.js";
import type { CursorsResult, RoomEventsResult } from "./rooms.js";
import type { RoundTripResult } from "./round-trip.js";
import type { UnderAttackResult } from "./under-attack.js";
import type { RulesCostResult } from "./permissions.js";
import type { AuthCostResult } from "./auth-cost.js";

export interface SyncResults {
  wsRoundTrip?: RoundTripResult;
  trellisPing?: RoundTripResult;
  sqliteCommit?: RoundTripResult;
  latency: LatencyResult[];
  /** CPUs of the servers and of the clients (null: not pinned). */
  pinning?: CpuPinning | null;
  throughput?: ThroughputResult;
  ingest?: { readonly server: RateResult[]; readonly upserts: RateResult[]; readonly inserts: RateResult };
  load?: { readonly fetched: LoadResult; readonly parsed: LoadResult; readonly preload?: LoadResult };
  wsFanOut?: FanOutResult;
  /** The `ws` broadcast floor with a durable SQLite commit before each broadcast. */
  durableFanOut?: FanOutResult;
  trellisFanOut?: FanOutResult;
  /** Rooms: the `ws` broadcast floor at each room size, the event fan-out, the cursors run. */
  roomFloors?: FanOutResult[];
  roomEvents?: RoomEventsResult[];
  cursors?: CursorsResult;
  /** Each client process's clock offset from the runner's, and half the round trip that bounds its error (µs). */
  clockOffsets?: Array<{ readonly offsetUs: number; readonly errorUs: number }>;
  /** Well-behaved clients with the server quiet, under a hostile client's attack, and during a large push. */
  underAttack?: Partial<UnderAttackResult>;
  /** Permission rules against the same work without rules. */
  rules?: RulesCostResult;
  /** Connection setup with tokens checked, against development mode. */
  auth?: AuthCostResult;
}

export interface SyncTarget {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly limit: string;
  /** The same-run figure the value is read against. */
  readonly reference: string;
  readonly status: "PASS" | "MISS" | "N/A";
}

const PHASES = ["new cells", "updates"] as const;

/** Sum of several rates: all triples over all time. */
function combined(rates: readonly RateResult[]): RateResult {
  const triples = rates.reduce((sum, each) => sum + each.triples, 0);
  const ms = rates.reduce((sum, each) => sum + each.ms, 0);
  return { triples, ms, perSecond: (triples / ms) * 1000 };
}

/** The printed tables. */
export function syncTables(results: SyncResults): string {
  const out: string[] = [];
  const floorUs = results.wsRoundTrip?.p50Us ?? Number.NaN;

  const trips = [
    ["plain ws echo (another process) [floor]", results.wsRoundTrip],
    ["Trellis ping → pong (server process)", results.trellisPing],
    ["SQLite durable commit of one triple (WAL, FULL) [floor]", results.sqliteCommit],
  ] as const;
  out.push(
    `S1 round trips between processes over loopback, and the durable commit every acknowledged write waits for (µs)\n${table(
      ["", "times", "p50 µs", "p99 µs", "p50 x ws"],
      trips
        .filter(([, each]) => each !== undefined)
        .map(([label, each]) => [
          label,
          f(each!.roundTrips),
          f(each!.p50Us, 1),
          f(each!.p99Us, 1),
          `${f(each!.p50Us / floorUs, 2)}x`,
        ]),
    )}`,
  );

  if (results.latency.length > 0) {
    out.push(
      `S2 write on one client → another client's subscription callback (clients in child processes, server in its own)\n${table(
        [
          "clients",
          "observing",
          "procs",
          "writes",
          "first p50 ms",
          "p50 ms",
          "p99 ms",
          "mean ms",
          "last p50 ms",
          "last p99 ms",
          "p50 x ws RTT",
          "setup s",
        ],
        results.latency.map((each) => [
          f(each.clients),
          each.mode === "clients" ? `all ${f(each.observers)} others` : `${f(each.observers)} among sockets`,
          f(each.processes),
          f(each.writes),
          f(each.firstP50Ms, 2),
          f(each.p50Ms, 2),
          f(each.p99Ms, 2),
          f(each.meanMs, 2),
          f(each.lastP50Ms, 2),
          f(each.lastP99Ms, 2),
          `${f((each.p50Ms * 1000) / floorUs, 0)}x`,
          f(each.setupS, 1),
        ]),
      )}\n` +
        `p50/p99/mean over every (write, observer) pair; first/last: the observer whose callback ran first/last for that write.\n` +
        `"all … others": every other connected client is a Trellis client on this machine, on the cores the server leaves them.\n` +
        `"… among sockets": Trellis observers at evenly spaced places in the server's send order (first and last included),\n` +
        `the other connections bare subscribed sockets: the server's work is the same, the clients' own work is left out.` +
        (results.clockOffsets === undefined
          ? ""
          : `\nclock offsets of the client processes (corrected): ${results.clockOffsets.map((each) => `${f(each.offsetUs, 1)} ± ${f(each.errorUs, 1)} µs`).join(", ")}`),
    );
  }

  const tp = results.throughput;
  if (tp !== undefined) {
    out.push(
      `S3 sustained replication, one writer client → one observer client (each update sets one field: one triple)\n${table(
        ["updates", "field changes", "ms", "updates/s", "field changes/s", "writer acked ms"],
        [
          [
            f(tp.updates),
            f(tp.fieldChanges),
            f(tp.ms, 0),
            f(tp.updatesPerSecond, 0),
            f(tp.fieldChangesPerSecond, 0),
            f(tp.ackMs, 0),
          ],
        ],
      )}`,
    );
  }

  const ingest = results.ingest;
  if (ingest !== undefined) {
    const floor = combined(ingest.upserts);
    const rows = (label: string, rates: readonly RateResult[]) => [
      ...rates.map((each, i) => [
        `${label}: ${PHASES[i]}`,
        f(each.triples),
        f(each.ms, 0),
        f(each.perSecond, 0),
        `${f((each.perSecond / ingest.upserts[i]!.perSecond) * 100, 0)}%`,
      ]),
      [
        `${label}: all`,
        f(combined(rates).triples),
        f(combined(rates).ms, 0),
        f(combined(rates).perSecond, 0),
        `${f((combined(rates).perSecond / floor.perSecond) * 100, 0)}%`,
      ],
    ];
    out.push(
      `S4 ingest: batched pushes merged durably (WAL, synchronous = FULL), timed to the last ack / commit\n${table(
        ["", "triples", "ms", "triples/s", "of SQLite LWW"],
        [
          ...rows("Trellis server (ws push)", ingest.server),
          ...rows("SQLite LWW upsert [floor]", ingest.upserts),
          [
            "SQLite plain INSERT, new cells [floor]",
            f(ingest.inserts.triples),
            f(ingest.inserts.ms, 0),
            f(ingest.inserts.perSecond, 0),
            "-",
          ],
        ],
      )}`,
    );
  }

  const load = results.load;
  if (load !== undefined) {
    const rows = [
      ["POST /v1/query, body read", load.fetched],
      ["POST /v1/query, body read + JSON.parse", load.parsed],
      ["Trellis client preload (fetch, check, apply, query)", load.preload],
    ] as const;
    out.push(
      `S5 initial load of a ${f(load.fetched.docs)}-document query over HTTP (median of runs after one untimed)\n${table(
        ["", "docs", "runs", "median ms", "MB"],
        rows
          .filter(([, each]) => each !== undefined)
          .map(([label, each]) => [label, f(each!.docs), f(each!.runs), f(each!.medianMs, 0), f(each!.mb, 1)]),
      )}`,
    );
  }

  const fans = [
    ["plain ws broadcast (another process) [floor]", results.wsFanOut],
    ["same, after a durable SQLite commit [floor]", results.durableFanOut],
    ["Trellis server (push → changes)", results.trellisFanOut],
  ] as const;
  if (fans.some(([, each]) => each !== undefined)) {
    const floor = results.wsFanOut?.allP50Ms ?? Number.NaN;
    out.push(
      `S6 one change fanned out to subscribed sockets (send → frame on every socket)\n${table(
        ["", "sockets", "writes", "first p50 ms", "half p50 ms", "all p50 ms", "all p99 ms", "all p50 x floor"],
        fans
          .filter(([, each]) => each !== undefined)
          .map(([label, each]) => [
            label,
            f(each!.sockets),
            f(each!.writes),
            f(each!.firstP50Ms, 2),
            f(each!.midP50Ms, 2),
            f(each!.allP50Ms, 2),
            f(each!.allP99Ms, 2),
            `${f(each!.allP50Ms / floor, 1)}x`,
          ]),
      )}\n` +
        `half: the frame reached half the sockets (what the median subscriber waits). The durable floor commits each frame\n` +
        `(one last-writer-wins upsert, WAL, synchronous = FULL) before broadcasting it, as any server must that shows others only durable changes.`,
    );
  }

  const roomEvents = results.roomEvents ?? [];
  if (roomEvents.length > 0 || (results.roomFloors ?? []).length > 0) {
    const floorFor = (members: number) => results.roomFloors?.find((each) => each.sockets === members);
    const rows: string[][] = [];
    const sizes = [
      ...new Set([
        ...(results.roomFloors ?? []).map((each) => each.sockets),
        ...roomEvents.map((each) => each.sockets),
      ]),
    ];
    for (const members of sizes) {
      const floor = floorFor(members);
      const events = roomEvents.find((each) => each.sockets === members);
      if (floor !== undefined) {
        rows.push([
          "plain ws broadcast (another process) [floor]",
          f(members),
          f(floor.writes),
          f(floor.firstP50Ms, 2),
          f(floor.allP50Ms, 2),
          f(floor.allP99Ms, 2),
          "1.0x",
        ]);
      }
      if (events !== undefined) {
        const ratio = events.allP50Ms / (floor?.allP50Ms ?? Number.NaN);
        rows.push([
          `Trellis room.emit → on / frame (${f(events.observers)} Trellis observers)`,
          f(members),
          f(events.writes),
          f(events.firstP50Ms, 2),
          f(events.allP50Ms, 2),
          f(events.allP99Ms, 2),
          `${f(ratio, 1)}x`,
        ]);
      }
    }
    out.push(
      `S7 room event fanned out to the room's other members (emit → every member has it)\n${table(
        ["", "members", "events", "first p50 ms", "all p50 ms", "all p99 ms", "all p50 x floor"],
        rows,
      )}\n` +
        `Members live in the runner: bare sockets joined to the room, and Trellis clients (at evenly spaced places in the\n` +
        `server's send order, the last included) timed to their room.on("ping") callback; the emitter is a Trellis client.`,
    );
  }

  const cursors = results.cursors;
  if (cursors !== undefined) {
    out.push(
      `S8 cursors: every member sets its user status ${f(cursors.hz)} times a second (bare sockets in the child processes)\n${table(
        [
          "members",
          "s",
          "sent",
          "offered/s",
          "delivered/s",
          "delivered",
          "staleness p50 ms",
          "staleness p99 ms",
          "never seen",
          "server CPU % of a core",
          "user ms",
          "system ms",
        ],
        [
          [
            f(cursors.members),
            f(cursors.seconds),
            f(cursors.sent),
            f(cursors.offeredPerSec, 0),
            f(cursors.deliveredPerSec, 0),
            `${f((cursors.deliveredPerSec / cursors.offeredPerSec) * 100, 0)}%`,
            f(cursors.stalenessP50Ms, 2),
            f(cursors.stalenessP99Ms, 2),
            f(cursors.missed),
            f(cursors.serverCpuPct, 0),
            f(cursors.serverUserMs, 0),
            f(cursors.serverSystemMs, 0),
          ],
        ],
      )}\n` +
        `offered/s: every update to every other member (members x (members - 1) x Hz); delivered/s: status frames with a cursor\n` +
        `received, per second of sending (the server sends each user's latest status at most every 50 ms per connection).\n` +
        `staleness: from a setUserStatus to the receiver first having that cursor or a newer one, over every (update, other member).`,
    );
  }
  const attack = results.underAttack;
  if (attack !== undefined) {
    const quietP99 = attack.quiet?.p99Us ?? Number.NaN;
    const rows: string[][] = [];
    for (const [label, each, note] of [
      ["server quiet", attack.quiet, "-"],
      [
        "under attack: a storm of mutated frames and multiplying relation queries",
        attack.attacked,
        attack.attacked === undefined
          ? "-"
          : `${f(attack.attacked.frames)} frames, ${f(attack.attacked.relationQueries)} relation queries`,
      ],
    ] as const) {
      if (each === undefined) continue;
      rows.push([
        label,
        f(each.writes),
        f(each.p50Us, 0),
        f(each.p99Us, 0),
        `${f(each.p99Us / quietP99, 2)}x`,
        f(each.worstPingMs, 1),
        note,
      ]);
    }
    const push = attack.largePush;
    if (push !== undefined) {
      rows.push([
        `during one HTTP push of ${f(push.triples)} triples (${f(push.megabytes, 1)} MB, acknowledged in ${f(push.ackMs, 0)} ms)`,
        "-",
        "-",
        "-",
        "-",
        f(push.worstPingMs, 1),
        "-",
      ]);
    }
    out.push(
      `S9 well-behaved clients while another attacks (write → a subscribed socket's frame, one app; pings from another app)\n${table(
        ["", "writes", "p50 µs", "p99 µs", "p99 x quiet", "worst ping ms", "attack"],
        rows,
      )}\n` +
        `The attacker is a process of its own: two sockets sending seeded mutated frames (deep values, huge strings, bad ids and\n` +
        `clocks, prototype keys, garbage), one subscribing to 8 levels of relations over documents that all link each other, and\n` +
        `one to a query over the server's cost limit. worst ping: the slowest ping → pong of a socket in another app, a bound on\n` +
        `how long the server's event loop stood still.`,
    );
  }
  const rules = results.rules;
  if (rules !== undefined) {
    out.push(
      table(
        ["permission rules", "without rules", "with rules", "ratio"],
        [
          [
            `snapshot of ${f(rules.docs)} documents (owner rule), median`,
            `${f(rules.snapshot.plainMs, 1)} ms`,
            `${f(rules.snapshot.rulesMs, 1)} ms`,
            `${f(rules.snapshot.rulesMs / rules.snapshot.plainMs, 2)}x`,
          ],
          [
            `write → change at ${f(rules.live.subscribers)} readers (sharing rule each), p50`,
            `${f(rules.live.plainP50Ms, 2)} ms`,
            `${f(rules.live.rulesP50Ms, 2)} ms`,
            `${f(rules.live.rulesP50Ms / rules.live.plainP50Ms, 2)}x`,
          ],
          [
            `  p99`,
            `${f(rules.live.plainP99Ms, 2)} ms`,
            `${f(rules.live.rulesP99Ms, 2)} ms`,
            `${f(rules.live.rulesP99Ms / rules.live.plainP99Ms, 2)}x`,
          ],
          [
            `snapshot of ${f(rules.docs)} tasks (membership of their project), median`,
            `${f(rules.membershipSnapshot.plainMs, 1)} ms`,
            `${f(rules.membershipSnapshot.rulesMs, 1)} ms`,
            `${f(rules.membershipSnapshot.rulesMs / rules.membershipSnapshot.plainMs, 2)}x`,
          ],
          [
            `write → change at ${f(rules.membershipLive.subscribers)} readers (membership rule each), p50`,
            `${f(rules.membershipLive.plainP50Ms, 2)} ms`,
            `${f(rules.membershipLive.rulesP50Ms, 2)} ms`,
            `${f(rules.membershipLive.rulesP50Ms / rules.membershipLive.plainP50Ms, 2)}x`,
          ],
          [
            `  p99`,
            `${f(rules.membershipLive.plainP99Ms, 2)} ms`,
            `${f(rules.membershipLive.rulesP99Ms, 2)} ms`,
            `${f(rules.membershipLive.rulesP99Ms / rules.membershipLive.plainP99Ms, 2)}x`,
          ],
          [
            `pushes of 100 updates (update rule)`,
            `${f(rules.push.plainPerSecond, 0)} triples/s`,
            `${f(rules.push.rulesPerSecond, 0)} triples/s`,
            `${f((rules.push.rulesPerSecond / rules.push.plainPerSecond) * 100, 0)}%`,
          ],
          [
            `sharing removed → reader told to drop it (${f(rules.revocation.runs)} runs)`,
            "-",
            `p50 ${f(rules.revocation.p50Ms, 2)} ms, p99 ${f(rules.revocation.p99Ms, 2)} ms`,
            "-",
          ],
          [
            `membership removed → reader told to drop the task (${f(rules.membershipRevocation.runs)} runs)`,
            "-",
            `p50 ${f(rules.membershipRevocation.p50Ms, 2)} ms, p99 ${f(rules.membershipRevocation.p99Ms, 2)} ms`,
            "-",
          ],
        ],
      ),
    );
  }
  const auth = results.auth;
  if (auth !== undefined) {
    const dev = auth.rows[0]!;
    out.push(
      `S10 connection setup (hello → welcome, then closed), ${f(auth.connections)} one after another per way of checking tokens\n${table(
        ["tokens checked", "connections/s", "median setup", "vs development"],
        auth.rows.map((row) => [
          row.mode,
          f(row.perSecond, 0),
          `${f(row.medianMs, 2)} ms`,
          `${f((row.perSecond / dev.perSecond) * 100, 0)}%`,
        ]),
      )}`,
    );
  }
  return out.join("\n\n");
}

/** The issue's targets, read from this run's figures (N/A when the run did not measure at the target's size). */
export function syncTargets(results: SyncResults, isSmoke: boolean): SyncTarget[] {
  const check = (value: number, isMet: (value: number) => boolean) =>
    Number.isFinite(value) && !isSmoke ? (isMet(value) ? "PASS" : "MISS") : "N/A";
  const at100 = (mode: LatencyMode) => results.latency.find((each) => each.clients === 100 && each.mode === mode);
  // The latency targets read against the floor of a durable broadcast: half the sockets for a median, all for a p99.
  const durable = results.durableFanOut;
  const durableFloor = (percentile: "p50Ms" | "p99Ms") =>
    durable === undefined
      ? "-"
      : percentile === "p50Ms"
        ? `durable ws broadcast, half of ${f(durable.sockets)}: ${f(durable.midP50Ms, 2)} ms`
        : `durable ws broadcast, all ${f(durable.sockets)} p99: ${f(durable.allP99Ms, 2)} ms`;
  const merge = results.ingest === undefined ? undefined : combined(results.ingest.server);
  const floor = results.ingest === undefined ? undefined : combined(results.ingest.upserts);
  const share = merge !== undefined && floor !== undefined ? merge.perSecond / floor.perSecond : Number.NaN;
  const fan = results.trellisFanOut?.sockets === 100 ? results.trellisFanOut.allP50Ms : Number.NaN;
  const latency = (mode: LatencyMode, label: string, percentile: "p50Ms" | "p99Ms", limit: number): SyncTarget => {
    const value = at100(mode)?.[percentile] ?? Number.NaN;
    const name = `write → remote callback ${percentile.slice(0, 3)}, 100 clients (${label})`;
    return {
      name,
      value,
      unit: "ms",
      limit: `<= ${limit}`,
      reference: durableFloor(percentile),
      status: check(value, (v) => v <= limit),
    };
  };
  const mergeRate = merge?.perSecond ?? Number.NaN;
  return [
    latency("clients", "all Trellis clients", "p50Ms", 2),
    latency("clients", "all Trellis clients", "p99Ms", 10),
    latency("sockets", "observers among bare sockets", "p50Ms", 2),
    latency("sockets", "observers among bare sockets", "p99Ms", 10),
    {
      name: "server merge throughput",
      value: mergeRate,
      unit: "triples/s",
      limit: ">= 100,000",
      reference: floor === undefined ? "-" : `SQLite LWW ${f(floor.perSecond, 0)}/s`,
      status: check(mergeRate, (v) => v >= 100_000),
    },
    {
      name: "server merge vs raw batched SQLite",
      value: share * 100,
      unit: "%",
      limit: ">= 30",
      reference: floor === undefined ? "-" : `SQLite LWW ${f(floor.perSecond, 0)}/s`,
      status: check(share, (v) => v >= 0.3),
    },
    {
      name: "write → remote callback p99 under attack",
      value: (results.underAttack?.attacked?.p99Us ?? Number.NaN) / (results.underAttack?.quiet?.p99Us ?? Number.NaN),
      unit: "x quiet",
      limit: "<= 2",
      reference:
        results.underAttack?.quiet === undefined ? "-" : `quiet p99 ${f(results.underAttack.quiet.p99Us, 0)} µs`,
      status: check(
        (results.underAttack?.attacked?.p99Us ?? Number.NaN) / (results.underAttack?.quiet?.p99Us ?? Number.NaN),
        (v) => v <= 2,
      ),
    },
    {
      name: "worst stall another app sees under attack",
      value: results.underAttack?.attacked?.worstPingMs ?? Number.NaN,
      unit: "ms",
      limit: "<= 50",
      reference:
        results.underAttack?.quiet === undefined ? "-" : `quiet ${f(results.underAttack.quiet.worstPingMs, 1)} ms`,
      status: check(results.underAttack?.attacked?.worstPingMs ?? Number.NaN, (v) => v <= 50),
    },
    ...rulesTargets(results.rules, check),
    authTarget(results.auth, check),
    {
      name: "one change fanned out to 100 sockets (p50)",
      value: fan,
      unit: "ms",
      limit: "<= 5",
      reference: results.wsFanOut === undefined ? "-" : `ws broadcast ${f(results.wsFanOut.allP50Ms, 2)} ms`,
      status: check(fan, (v) => v <= 5),
    },
  ];
}

/** Setting up a connection with the costliest token check, against development mode. */
function authTarget(
  auth: AuthCostResult | undefined,
  check: (value: number, isMet: (value: number) => boolean) => SyncTarget["status"],
): SyncTarget {
  const dev = auth?.rows[0];
  const slowest = auth === undefined ? undefined : [...auth.rows.slice(1)].sort((a, b) => a.perSecond - b.perSecond)[0];
  const share = dev === undefined || slowest === undefined ? Number.NaN : (slowest.perSecond / dev.perSecond) * 100;
  return {
    name: `connection setup with tokens checked (slowest: ${slowest?.mode ?? "-"})`,
    value: share,
    unit: "% of development",
    limit: ">= 50",
    reference: dev === undefined ? "-" : `development ${f(dev.perSecond, 0)}/s`,
    status: check(share, (v) => v >= 50),
  };
}

/** The permission rules' targets: each a ratio to the same run without rules. */
function rulesTargets(
  rules: RulesCostResult | undefined,
  check: (value: number, isMet: (value: number) => boolean) => SyncTarget["status"],
): SyncTarget[] {
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? Number.NaN : a / b;
  const snapshot = ratio(rules?.snapshot.rulesMs, rules?.snapshot.plainMs);
  const live = ratio(rules?.live.rulesP50Ms, rules?.live.plainP50Ms);
  const membershipSnapshot = ratio(rules?.membershipSnapshot.rulesMs, rules?.membershipSnapshot.plainMs);
  const membershipLive = ratio(rules?.membershipLive.rulesP50Ms, rules?.membershipLive.plainP50Ms);
  const push = ratio(rules?.push.rulesPerSecond, rules?.push.plainPerSecond) * 100;
  return [
    {
      name: "snapshot of 10k documents, owner rule",
      value: snapshot,
      unit: "x no rules",
      limit: "<= 1.3",
      reference: rules === undefined ? "-" : `no rules ${f(rules.snapshot.plainMs, 1)} ms`,
      status: check(snapshot, (v) => v <= 1.3),
    },
    {
      name: "write → change p50, 100 readers with a rule each",
      value: live,
      unit: "x no rules",
      limit: "<= 1.5",
      reference: rules === undefined ? "-" : `no rules ${f(rules.live.plainP50Ms, 2)} ms`,
      status: check(live, (v) => v <= 1.5),
    },
    {
      name: "snapshot of 10k documents, membership through a ref",
      value: membershipSnapshot,
      unit: "x no rules",
      limit: "<= 2",
      reference: rules === undefined ? "-" : `no rules ${f(rules.membershipSnapshot.plainMs, 1)} ms`,
      status: check(membershipSnapshot, (v) => v <= 2),
    },
    {
      name: "write → change p50, 100 readers with a membership rule each",
      value: membershipLive,
      unit: "x no rules",
      limit: "<= 1.5",
      reference: rules === undefined ? "-" : `no rules ${f(rules.membershipLive.plainP50Ms, 2)} ms`,
      status: check(membershipLive, (v) => v <= 1.5),
    },
    {
      name: "push throughput, update rule",
      value: push,
      unit: "% of no rules",
      limit: ">= 50",
      reference: rules === undefined ? "-" : `no rules ${f(rules.push.plainPerSecond, 0)} triples/s`,
      status: check(push, (v) => v >= 50),
    },
  ];
}

export function syncTargetLines(targets: readonly SyncTarget[]): string {
  return `Targets (N/A where this run did not measure at the target's size, and for smoke runs)\n${table(
    ["target", "measured", "limit", "same-run reference", ""],
    targets.map((each) => [
      each.name,
      `${f(each.value, each.unit === "ms" || each.unit.startsWith("x") ? 2 : 0)} ${each.unit}`,
      `${each.limit} ${each.unit}`,
      each.reference,
      each.status,
    ]),
  )}`;
}
