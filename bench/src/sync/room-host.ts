/**
 * Child process hosting room members for the cursors phase: bare protocol sockets joined to one
 * room, each sending its cursor (`setUserStatus`) on a fixed schedule and recording, per other
 * member, when it first saw each cursor number (or a newer one). Times are on the runner's clock
 * (this process's epoch ms minus the offset the runner measured, see ipc.ts), so send times from
 * one process and seen times from another compare directly.
 *
 * Usage: forked by the runner (see rooms.ts); answers the ops below over IPC.
 */
import { epochMs, serve } from "./ipc.js";
import { openProtocolSocket, type ProtocolSocket } from "./protocol-socket.js";
import { BENCH_ROOM } from "./schema.js";

interface Member {
  readonly name: string;
  /** Its place among all members (spreads the send schedules over a period). */
  readonly index: number;
  readonly socket: ProtocolSocket;
  /** Runner-clock time of each cursor number it sent. */
  readonly sentAt: number[];
  /** Per sender: the runner-clock time it first saw cursor k or a newer one, by k (NaN: not yet). */
  readonly seenAt: Map<string, Float64Array>;
  /** Per sender: the largest cursor number seen. */
  readonly lastSeen: Map<string, number>;
}

const members: Member[] = [];
let offsetMs = 0;
let delivered = 0;
/** Room each cursor run may see: cursor numbers below this (sized at `cursors`). */
let capacity = 0;

const now = () => epochMs() - offsetMs;

function onCursor(member: Member, text: string): boolean {
  if (!text.includes('"type":"userStatus"')) return false;
  const message = JSON.parse(text) as { userId: string; status: { cursor?: { k: number } } | null };
  const k = message.status?.cursor?.k;
  if (k === undefined) return false;
  const at = now();
  delivered++;
  let seen = member.seenAt.get(message.userId);
  if (seen === undefined) {
    seen = new Float64Array(capacity).fill(Number.NaN);
    member.seenAt.set(message.userId, seen);
  }
  const last = member.lastSeen.get(message.userId) ?? -1;
  if (k > last) {
    for (let j = last + 1; j <= k && j < capacity; j++) seen[j] = at;
    member.lastSeen.set(message.userId, k);
  }
  return true;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

serve({
  /** Opens the members `names` (their places `indexes`), each joined to the room with an empty status. */
  open: async (args: {
    serverUrl: string;
    appId: string;
    names: readonly string[];
    indexes: readonly number[];
    offsetMs: number;
  }) => {
    offsetMs = args.offsetMs;
    for (let i = 0; i < args.names.length; i += 25) {
      await Promise.all(
        args.names.slice(i, i + 25).map(async (name, j) => {
          const socket = await openProtocolSocket(args.serverUrl, args.appId, name);
          socket.send({ type: "join", ...BENCH_ROOM, userStatus: {} });
          await socket.next("roomState");
          const member: Member = {
            name,
            index: args.indexes[i + j]!,
            socket,
            sentAt: [],
            seenAt: new Map(),
            lastSeen: new Map(),
          };
          socket.onFrame = (text) => onCursor(member, text);
          members.push(member);
        }),
      );
    }
  },

  /**
   * From `startAt` (runner clock) for `durationMs`, every member sends its cursor `hz` times a
   * second, member i's schedule shifted by i/members of a period. A member that falls behind
   * sends once and skips the missed slots (as a UI sends only the latest position).
   */
  cursors: async ({
    startAt,
    durationMs,
    hz,
    total,
  }: {
    startAt: number;
    durationMs: number;
    hz: number;
    total: number;
  }) => {
    const period = 1000 / hz;
    capacity = Math.ceil((durationMs / 1000) * hz) + 2;
    delivered = 0;
    const due = members.map((member) => startAt + (member.index / total) * period);
    const endAt = startAt + durationMs;
    while (now() < startAt - 2) await sleep(1);
    for (;;) {
      const t = now();
      if (t >= endAt) break;
      for (let m = 0; m < members.length; m++) {
        if (due[m]! > t) continue;
        const member = members[m]!;
        const k = member.sentAt.length;
        if (k >= capacity) continue;
        member.sentAt.push(now());
        member.socket.sendText(
          JSON.stringify({
            type: "setUserStatus",
            ...BENCH_ROOM,
            status: { cursor: { x: (k * 7) % 1920, y: (k * 13) % 1080, k } },
          }),
        );
        due[m] = Math.max(due[m]! + period, t - period);
      }
      await sleep(1);
    }
  },

  /** Status frames with a cursor received so far in this run (the runner waits for it to settle). */
  delivered: () => delivered,

  /** Every member's send times (runner clock), by name. */
  sendTimes: () => Object.fromEntries(members.map((member) => [member.name, member.sentAt])),

  /**
   * Staleness of every (sent cursor, other member) pair: the time from its send to the member
   * first seeing it or a newer one, as a histogram of 10 µs buckets; plus the status frames with
   * a cursor received, and the pairs never seen.
   */
  staleness: ({ sendTimes }: { sendTimes: Record<string, readonly number[]> }) => {
    const buckets: Record<number, number> = {};
    let missed = 0;
    for (const member of members) {
      for (const [sender, sent] of Object.entries(sendTimes)) {
        if (sender === member.name) continue;
        const seen = member.seenAt.get(sender);
        for (let k = 0; k < sent.length; k++) {
          const at = seen?.[k];
          if (at === undefined || Number.isNaN(at)) {
            missed++;
            continue;
          }
          const bucket = Math.max(0, Math.floor((at - sent[k]!) * 100));
          buckets[bucket] = (buckets[bucket] ?? 0) + 1;
        }
      }
    }
    return { delivered, missed, buckets };
  },

  closeAll: async () => {
    await Promise.all(members.splice(0).map((member) => member.socket.close()));
  },
});
