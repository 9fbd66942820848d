/**
 * Rooms: an event fanned out to a room's members, and members streaming their cursors
 * (user statuses) at 60 Hz. Events: the members live in this process (bare sockets, with a few
 * real Trellis observers), timed like the fan-out phase against the same `ws` broadcast floor.
 * Cursors: bare sockets in the child processes of room-host.ts.
 */
import { createClient } from "@trellis/client";
import { type FanOutResult, timeFanOut } from "./fan-out.js";
import { type Child, epochMs } from "./ipc.js";
import { openProtocolSocket, type ProtocolSocket } from "./protocol-socket.js";
import { BENCH_ROOM, syncSchema } from "./schema.js";

type Client = ReturnType<typeof createClient<typeof syncSchema>>;

export interface RoomEventsResult extends FanOutResult {
  /** Members that are Trellis clients (timed to their `on` callback); the others are bare sockets. */
  readonly observers: number;
}

/**
 * `members` other members in one room; the emitter (a Trellis client) emits one event at a time,
 * timed from just before `room.emit(…)` to every member having it: a bare socket's frame, or a
 * Trellis observer's `on("ping")` callback. The observers sit at evenly spaced places in the
 * server's send order (join order), the last place included.
 */
export async function roomEventFanOut(
  serverUrl: string,
  members: number,
  writes: number,
  gapMs: number,
  observers: number,
): Promise<RoomEventsResult> {
  const appId = `bench-room-events-${members}`;
  const count = Math.min(observers, members - 1);
  const places = new Set(
    Array.from({ length: count }, (_, i) =>
      count === 1 ? members - 1 : 1 + Math.round((i * (members - 2)) / (count - 1)),
    ),
  );
  let onArrival: () => void = () => {};
  const sockets: ProtocolSocket[] = [];
  const clients: Client[] = [];
  const isEvent = (text: string) => {
    if (!text.startsWith('{"type":"roomEvent"')) return false;
    onArrival();
    return true;
  };
  // Member 0, a bare socket, hears every later join: each member is in before the next joins.
  const probe = await openProtocolSocket(serverUrl, appId, "member0");
  sockets.push(probe);
  probe.send({ type: "join", ...BENCH_ROOM, userStatus: {} });
  await probe.next("roomState");
  probe.onFrame = isEvent;
  const joined = async (name: string) => {
    const message = await probe.next("userStatus");
    if (message.userId !== name) throw new Error(`room events: expected ${name} to join, got ${message.userId}`);
  };
  const openClient = (name: string) => {
    const client = createClient({ schema: syncSchema, appId, serverUrl, userId: name });
    clients.push(client);
    return client.rooms.board(BENCH_ROOM.roomId);
  };
  try {
    for (let i = 1; i < members; i++) {
      const name = `member${i}`;
      if (places.has(i)) {
        openClient(name).on("ping", () => onArrival());
      } else {
        const socket = await openProtocolSocket(serverUrl, appId, name);
        sockets.push(socket);
        socket.send({ type: "join", ...BENCH_ROOM, userStatus: {} });
        await socket.next("roomState");
        socket.onFrame = isEvent;
      }
      await joined(name);
    }
    const room = openClient("emitter");
    await joined("emitter");
    let sent: ReturnType<typeof room.emit> | undefined;
    const result = await timeFanOut(
      members,
      (arrival) => (onArrival = arrival),
      (k) => (sent = room.emit("ping", { k })),
      async () => {
        const answer = await sent;
        if (answer?.error) throw answer.error;
      },
      writes,
      gapMs,
    );
    return { ...result, observers: count };
  } finally {
    await Promise.all([...clients.map((client) => client.close()), ...sockets.map((socket) => socket.close())]);
  }
}

export interface CursorsResult {
  readonly members: number;
  readonly hz: number;
  readonly seconds: number;
  /** Cursor updates sent by all members, and status frames with a cursor received by all. */
  readonly sent: number;
  readonly delivered: number;
  /** Delivered per second of sending, and what every update reaching every other member would be. */
  readonly deliveredPerSec: number;
  readonly offeredPerSec: number;
  /** Send → the receiver first shows that cursor or a newer one, over every (update, other member) pair, ms. */
  readonly stalenessP50Ms: number;
  readonly stalenessP99Ms: number;
  /** Pairs whose receiver never showed that cursor or a newer one (expected 0). */
  readonly missed: number;
  /** Server CPU time (user + system) over the sending window, as a share of one core (%). */
  readonly serverCpuPct: number;
  readonly serverUserMs: number;
  readonly serverSystemMs: number;
}

interface ServerCpu {
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
}

async function serverCpu(serverUrl: string): Promise<ServerCpu> {
  const response = await fetch(`${serverUrl}/v1/metrics`);
  const body = (await response.json()) as Partial<ServerCpu>;
  if (typeof body.cpuUserMs !== "number" || typeof body.cpuSystemMs !== "number")
    throw new Error("GET /v1/metrics has no cpuUserMs/cpuSystemMs");
  return { cpuUserMs: body.cpuUserMs, cpuSystemMs: body.cpuSystemMs };
}

/** The value at percentile `p` of a histogram of 10 µs buckets. */
function bucketPercentile(buckets: ReadonlyMap<number, number>, total: number, p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const [bucket, count] of [...buckets].sort((a, b) => a[0] - b[0])) {
    seen += count;
    if (seen >= rank) return (bucket + 0.5) / 100;
  }
  return Number.NaN;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `members` bare-socket members, spread over `hosts` (room-host.ts), each sending its cursor
 * `hz` times a second for `durationMs`; then the backlog drains (until nothing arrives for 0.5 s).
 */
export async function roomCursors(
  hosts: readonly Child[],
  serverUrl: string,
  options: { members: number; hz: number; durationMs: number },
): Promise<CursorsResult> {
  const { members, hz, durationMs } = options;
  const appId = "bench-room-cursors";
  const names = hosts.map(() => [] as string[]);
  const indexes = hosts.map(() => [] as number[]);
  for (let i = 0; i < members; i++) {
    names[i % hosts.length]!.push(`cursor${i}`);
    indexes[i % hosts.length]!.push(i);
  }
  try {
    await Promise.all(
      hosts.map((host, h) =>
        host.call("open", { serverUrl, appId, names: names[h], indexes: indexes[h], offsetMs: host.offsetMs }),
      ),
    );
    const startAt = epochMs() + 100;
    const before = await serverCpu(serverUrl);
    const cpuStart = epochMs();
    await Promise.all(hosts.map((host) => host.call("cursors", { startAt, durationMs, hz, total: members })));
    const after = await serverCpu(serverUrl);
    const cpuWindowMs = epochMs() - cpuStart;
    // The backlog drains: wait until no cursor has arrived anywhere for half a second (at most 30 s).
    let last = -1;
    for (let quiet = 0, waited = 0; quiet < 2 && waited < 30_000; waited += 250) {
      await sleep(250);
      const now = (await Promise.all(hosts.map((host) => host.call<number>("delivered")))).reduce(
        (sum, each) => sum + each,
        0,
      );
      quiet = now === last ? quiet + 1 : 0;
      last = now;
    }
    const sendTimes: Record<string, number[]> = Object.assign(
      {},
      ...(await Promise.all(hosts.map((host) => host.call<Record<string, number[]>>("sendTimes")))),
    );
    const parts = await Promise.all(
      hosts.map((host) =>
        host.call<{ delivered: number; missed: number; buckets: Record<string, number> }>("staleness", { sendTimes }),
      ),
    );
    const buckets = new Map<number, number>();
    let delivered = 0;
    let missed = 0;
    let pairs = 0;
    for (const part of parts) {
      delivered += part.delivered;
      missed += part.missed;
      for (const [bucket, count] of Object.entries(part.buckets)) {
        buckets.set(Number(bucket), (buckets.get(Number(bucket)) ?? 0) + count);
        pairs += count;
      }
    }
    const sent = Object.values(sendTimes).reduce((sum, times) => sum + times.length, 0);
    const seconds = durationMs / 1000;
    const userMs = after.cpuUserMs - before.cpuUserMs;
    const systemMs = after.cpuSystemMs - before.cpuSystemMs;
    return {
      members,
      hz,
      seconds,
      sent,
      delivered,
      deliveredPerSec: delivered / seconds,
      offeredPerSec: members * (members - 1) * hz,
      stalenessP50Ms: bucketPercentile(buckets, pairs, 50),
      stalenessP99Ms: bucketPercentile(buckets, pairs, 99),
      missed,
      serverCpuPct: ((userMs + systemMs) / cpuWindowMs) * 100,
      serverUserMs: userMs,
      serverSystemMs: systemMs,
    };
  } finally {
    await Promise.all(hosts.map((host) => host.call("closeAll")));
  }
}
