/**
 * Child process hosting Trellis clients (and bare subscribed sockets) for the latency and
 * throughput phases: each client is a full `createClient({ serverUrl })` with its own WebSocket,
 * subscribed to every `items` document. Observers record, per write number `k`, the epoch time
 * at which their subscription callback first showed `n >= k`; the runner gets those times at the
 * end (see ipc.ts for the clock). When every tracked observer of this process has seen write
 * `k`, it emits `seen`.
 *
 * Usage: forked by the runner (see replication.ts); answers the ops below over IPC.
 */
import { createClient } from "@trellis/client";
import { epochMs, serve } from "./ipc.js";
import { openProtocolSocket, type ProtocolSocket } from "./protocol-socket.js";
import { everyDocument, syncSchema } from "./schema.js";

type Client = ReturnType<typeof createClient<typeof syncSchema>>;

interface Hosted {
  readonly client: Client;
  /** Counts toward `seen` events (latency observers). */
  readonly isTracked: boolean;
  /** Largest `n` shown by its subscription so far. */
  maxN: number;
  /** Epoch ms at which the callback first showed n >= k, by k (tracked observers only). */
  readonly seenAt: number[];
  /** Resolvers waiting for n >= their k. */
  readonly waiters: Array<{ k: number; resolve: (at: number) => void }>;
  /** What `watch` waits for: the epoch time its value showed. */
  watched?: Promise<number>;
}

export interface OpenArgs {
  readonly serverUrl: string;
  readonly appId: string;
  /** The first subscription result must hold this many documents. */
  readonly expectDocs: number;
  /** Writers create documents "d0", "d1", …. */
  readonly isWriter?: boolean;
  readonly isTracked?: boolean;
}

const hosted = new Map<string, Hosted>();
/** Bare subscribed sockets: connected clients as the server sees them, at almost no cost here. */
const sockets: ProtocolSocket[] = [];
/** Tracked observers that have seen k, by k. */
const seenCounts = new Map<number, number>();
let trackedCount = 0;

const docId = (index: number) => `d${index}`;

function open(name: string, args: OpenArgs): Promise<void> {
  if (hosted.has(name)) throw new Error(`client "${name}" is open already`);
  let nextId = 0;
  const client = createClient({
    schema: syncSchema,
    appId: args.appId,
    serverUrl: args.serverUrl,
    userId: name,
    ...(args.isWriter === true ? { generateId: () => docId(nextId++) } : {}),
  });
  const entry: Hosted = { client, isTracked: args.isTracked === true, maxN: -1, seenAt: [], waiters: [] };
  hosted.set(name, entry);
  if (entry.isTracked) trackedCount++;
  return new Promise<void>((resolve, reject) => {
    let isReady = false;
    client.database.items.subscribe({}, (docs, error, loading) => {
      if (error !== undefined) return reject(error);
      if (loading || docs === undefined) return;
      if (!isReady && docs.length >= args.expectDocs) {
        isReady = true;
        resolve();
      }
      // A writer's callback runs inside each of its writes: it stays as cheap as an app's would.
      if (args.isWriter === true) return;
      let max = entry.maxN;
      for (const doc of docs) if (doc.n > max) max = doc.n;
      if (max > entry.maxN) observe(entry, max);
    });
  });
}

/** The subscription showed `max` for the first time. */
function observe(entry: Hosted, max: number): void {
  const at = epochMs();
  const from = entry.maxN + 1;
  entry.maxN = max;
  if (entry.isTracked) {
    for (let k = from; k <= max; k++) {
      entry.seenAt[k] = at;
      const count = (seenCounts.get(k) ?? 0) + 1;
      if (count === trackedCount) {
        seenCounts.delete(k);
        emit("seen", k);
      } else seenCounts.set(k, count);
    }
  }
  for (let i = entry.waiters.length - 1; i >= 0; i--) {
    const waiter = entry.waiters[i]!;
    if (waiter.k <= max) {
      entry.waiters.splice(i, 1);
      waiter.resolve(at);
    }
  }
}

function get(name: string): Hosted {
  const entry = hosted.get(name);
  if (entry === undefined) throw new Error(`no client "${name}" in this process`);
  return entry;
}

/** Resolves once every write of the client is acknowledged by the server. */
function acknowledged(client: Client): Promise<void> {
  if (client.connection.pending === 0 && client.connection.state === "online") return Promise.resolve();
  return new Promise((resolve) => {
    const stop = client.connection.subscribe(({ pending, state }) => {
      if (pending === 0 && state === "online") {
        stop();
        resolve();
      }
    });
  });
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

const emit = serve({
  open: (args: OpenArgs & { readonly name: string }) => open(args.name, args),

  /** Opens tracked observers named `names`, in that order, a few dozen connecting at a time. */
  openMany: async (args: OpenArgs & { readonly names: readonly string[] }) => {
    for (let i = 0; i < args.names.length; i += 50) {
      await Promise.all(args.names.slice(i, i + 50).map((name) => open(name, { ...args, isTracked: true })));
    }
  },

  /**
   * Opens bare protocol sockets subscribed to every `items` document (the query a Trellis
   * client's `items.subscribe({})` sends); they take their changes and do nothing with them.
   */
  openSockets: async ({ names, serverUrl, appId }: { names: readonly string[]; serverUrl: string; appId: string }) => {
    const query = everyDocument("items");
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(
        names.slice(i, i + 50).map(async (name) => {
          const socket = await openProtocolSocket(serverUrl, appId, name);
          socket.send({ type: "subscribe", queryId: "q", query, cursor: null });
          await socket.next("snapshot");
          sockets.push(socket);
        }),
      );
    }
  },

  /** The writer creates `docs` documents and waits for the server's ack. */
  seed: async ({ name, docs }: { name: string; docs: number }) => {
    const { client } = get(name);
    const result = await client.database.batch.execute(
      Array.from({ length: docs }, (_, i) => client.database.batch.items.create({ n: -1, title: `item ${i}` })),
    );
    if (result.error) throw result.error;
    await acknowledged(client);
  },

  /** One update of `n` to `k`; answers the epoch time just before the call. */
  write: async ({ name, k, docs }: { name: string; k: number; docs: number }) => {
    const { client } = get(name);
    const at = epochMs();
    const result = await client.database.items.update({ id: docId(k % docs), fields: { n: k } });
    if (result.error) throw result.error;
    return at;
  },

  /**
   * Streams `updates` updates (n = 0, 1, …), `perTurn` per event-loop turn so each turn's writes
   * share a frame; answers when they were issued and when the last was acknowledged.
   */
  stream: async ({
    name,
    updates,
    perTurn,
    docs,
  }: {
    name: string;
    updates: number;
    perTurn: number;
    docs: number;
  }) => {
    const { client } = get(name);
    const start = epochMs();
    for (let k = 0; k < updates; k += perTurn) {
      const writes: Array<Promise<{ error?: unknown }>> = [];
      for (let j = k; j < Math.min(updates, k + perTurn); j++)
        writes.push(client.database.items.update({ id: docId(j % docs), fields: { n: j } }));
      for (const result of await Promise.all(writes)) if (result.error) throw result.error;
      await turn();
    }
    const issued = epochMs();
    await acknowledged(client);
    return { start, issued, acked: epochMs() };
  },

  /** Starts watching for the client's subscription to show n >= k; call before writing k. */
  watch: ({ name, k }: { name: string; k: number }) => {
    const entry = get(name);
    if (entry.maxN >= k) throw new Error(`client "${name}" showed ${k} already; watch before writing it`);
    entry.watched = new Promise<number>((resolve) => entry.waiters.push({ k, resolve }));
  },

  /** The epoch time at which the watched value showed (see `watch`). */
  watched: ({ name }: { name: string }) => {
    const { watched } = get(name);
    if (watched === undefined) throw new Error(`client "${name}" watches nothing`);
    return watched;
  },

  /** Seen times of every tracked observer for writes 0..writes-1 (null where missing). */
  times: ({ writes }: { writes: number }) => {
    const out: Record<string, Array<number | null>> = {};
    for (const [name, entry] of hosted) {
      if (entry.isTracked) out[name] = Array.from({ length: writes }, (_, k) => entry.seenAt[k] ?? null);
    }
    return out;
  },

  closeAll: async () => {
    const clients = [...hosted.values()].map((entry) => entry.client);
    hosted.clear();
    seenCounts.clear();
    trackedCount = 0;
    await Promise.all([
      ...clients.map((client) => client.close()),
      ...sockets.splice(0).map((socket) => socket.close()),
    ]);
  },
});
