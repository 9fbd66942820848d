/**
 * A hostile client in a process of its own, for the "under attack" phase: while the runner times
 * well-behaved clients, it sends a seeded storm of mutated frames on some sockets and, on
 * another, subscribes again and again to relation queries that multiply (8 levels over documents
 * that all link each other, and one over the server's cost limit).
 */
import { createSchema, normalizeQuery, type NormalizedQuery, t, TICKS_PER_MS, encodeHlc } from "@trellis/core";
import { stormFrames } from "@trellis/server/testing/storm";
import { serve } from "./ipc.js";
import { openProtocolSocket, type ProtocolSocket } from "./protocol-socket.js";

export interface AttackArgs {
  readonly serverUrl: string;
  readonly seed: number;
}

/** What the attack did, for the report. */
export interface AttackCounts {
  readonly frames: number;
  readonly relationQueries: number;
}

const schema = createSchema({ entities: { nodes: { name: t.string({ fallback: "" }), links: t.refMany("nodes") } } });

/** `{ id, name, links: { … } }`, `depth` relations deep. */
function linkedQuery(depth: number): NormalizedQuery {
  let input: Record<string, unknown> = { fields: { id: true, name: true } };
  for (let level = 0; level < depth; level++) input = { fields: { id: true, name: true, links: input } };
  const normalized = normalizeQuery(schema.collections.nodes!, input, schema.collections);
  if (normalized.error) throw normalized.error;
  return normalized.data;
}

let ticks = Date.now() * TICKS_PER_MS;
const hlc = () => encodeHlc({ ticks: (ticks = Math.max(ticks + 1, Date.now() * TICKS_PER_MS)), node: "attacker" });

/** `ids` in `appId`, each linking all of them. */
async function seedLinked(serverUrl: string, appId: string, ids: readonly string[]): Promise<void> {
  const socket = await openProtocolSocket(serverUrl, appId, "seeder");
  const triples = ids.flatMap((id) => [
    { collection: "nodes", id, field: "name", value: id, hlc: hlc() },
    ...ids.map((to) => ({ collection: "nodes", id, field: "links", element: to, value: true, hlc: hlc() })),
  ]);
  for (let from = 0; from < triples.length; from += 5_000) {
    socket.send({ type: "push", batchId: `seed-${from}`, triples: triples.slice(from, from + 5_000) });
    await socket.next("ack");
  }
  await socket.close();
}

let isRunning = false;
let counts = { frames: 0, relationQueries: 0 };
let loops: Promise<unknown>[] = [];
/** The attack's sockets, dropped on stop. */
const sockets = new Set<ProtocolSocket>();

async function attackSocket(serverUrl: string, appId: string, clientId: string): Promise<ProtocolSocket> {
  const socket = await openProtocolSocket(serverUrl, appId, clientId);
  sockets.add(socket);
  return socket;
}

async function storm(serverUrl: string, seed: number, index: number): Promise<void> {
  let socket: ProtocolSocket | undefined;
  let caughtUp: (() => void) | undefined;
  let sent = 0;
  for (const text of stormFrames(seed * 10 + index, Number.MAX_SAFE_INTEGER)) {
    if (!isRunning) break;
    // A connection closed for too many bad frames is replaced, as a real attacker would.
    if (socket === undefined || !socket.isOpen) {
      await socket?.close();
      socket = await attackSocket(serverUrl, `storm-${index}`, `attacker-${index}`);
      // Answers are read and dropped; a pong ends a wait for the server to catch up.
      socket.onFrame = (frame) => {
        if (frame.includes('"type":"pong"')) caughtUp?.();
        return true;
      };
    }
    socket.sendText(text);
    counts.frames++;
    // Waits for the server now and then, so frames are handled, not queued without end.
    if (++sent % 20 === 0) {
      const pong = new Promise<void>((resolve) => (caughtUp = resolve));
      socket.send({ type: "ping" });
      await Promise.race([pong, new Promise((resolve) => setTimeout(resolve, 1_000))]);
    }
  }
  await socket?.close();
}

async function relations(serverUrl: string): Promise<void> {
  const socket = await attackSocket(serverUrl, "linked", "relation-attacker");
  const dense = await attackSocket(serverUrl, "dense", "relation-attacker");
  const deep = linkedQuery(8);
  let round = 0;
  while (isRunning) {
    const queryId = `deep-${round++}`;
    socket.send({ type: "subscribe", queryId, query: deep, cursor: null });
    await socket.next("snapshot");
    socket.send({ type: "unsubscribe", queryId });
    // Over the cost limit: refused with VALIDATION before it costs more than the limit.
    dense.send({ type: "subscribe", queryId, query: deep, cursor: null });
    await dense.next("snapshot").catch(() => undefined);
    counts.relationQueries += 2;
  }
  await Promise.all([socket.close(), dense.close()]);
}

serve({
  start: async ({ serverUrl, seed }: AttackArgs) => {
    await seedLinked(serverUrl, "linked", ["a", "b", "c", "d", "e", "f"]);
    await seedLinked(
      serverUrl,
      "dense",
      Array.from({ length: 150 }, (_, index) => `n${index}`),
    );
    isRunning = true;
    counts = { frames: 0, relationQueries: 0 };
    const kinds = (process.env.BENCH_ATTACK ?? "storm,relations").split(",");
    loops = [
      ...(kinds.includes("storm") ? [storm(serverUrl, seed, 0), storm(serverUrl, seed, 1)] : []),
      ...(kinds.includes("relations") ? [relations(serverUrl)] : []),
    ];
  },
  stop: async (): Promise<AttackCounts> => {
    isRunning = false;
    // The server throttles the attacker's users (a refused query costs ten times its time) by not
    // reading their sockets, so a round may wait seconds for its answer and a closing handshake
    // would wait as long: dropping the connections ends them at once.
    const ended = Promise.allSettled(loops);
    await Promise.all([...sockets].map((socket) => socket.terminate()));
    sockets.clear();
    await ended;
    return counts;
  },
});
