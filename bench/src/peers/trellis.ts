/**
 * Trellis, through its public client API only: `batch.execute` for bulk inserts, `query` for
 * one-shot queries, `subscribe` for live queries, `update` for writes.
 *
 * For W2 and W3 the client is given the shared document ids (`generateId`) and a clock that
 * advances 1 ms per write (`now`), so the auto field `createdAt` of document i equals the other
 * peers' `createdAt` (BASE_TIME + i) and every peer must return the very same rows.
 */
import { createClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { BASE_TIME, makeTodos, type Todo, W2_LIMIT, W3_LIMIT, w3Queries, w3Writes, type W3Write } from "../data.js";
import { measureInsert, measureMemory, measureQueries, measureWrites, NotifyTracker, resultsChecksum } from "../harness.js";
import type { PeerBench } from "../peer.js";

const schema = createSchema({
  entities: {
    todos: {
      title: t.string({ fallback: "" }),
      tag: t.string({ fallback: "" }),
      priority: t.number({ fallback: 0 }),
      done: t.boolean({ fallback: false }),
    },
  },
});

type Client = ReturnType<typeof createClient<typeof schema>>;

/** Every field a result document carries (as the other peers return them). */
const ALL_FIELDS = { id: true, title: true, tag: true, priority: true, done: true, createdAt: true } as const;

function fieldsOf(todo: Todo) {
  return { title: todo.title, tag: todo.tag, priority: todo.priority, done: todo.done };
}

/** A client whose ids and creation times match the shared data set (see the file comment). */
function replayingClient(todos: readonly Todo[]): Client {
  let nextId = 0;
  let ticks = 0;
  return createClient({
    schema,
    clientId: "bench",
    generateId: () => todos[nextId++]?.id ?? `extra-${nextId}`,
    now: () => BASE_TIME + ticks++,
  });
}

async function insertAll(client: Client, todos: Iterable<Todo>): Promise<void> {
  const ops = [];
  for (const todo of todos) ops.push(client.database.batch.todos.create(fieldsOf(todo)));
  const result = await client.database.batch.execute(ops);
  if (result.error) throw new Error(`batch.execute failed: ${result.error.message}`);
  const failed = result.data.find((each) => each.error !== undefined);
  if (failed?.error) throw new Error(`batch create failed: ${failed.error.message}`);
}

function update(client: Client, id: string, write: W3Write) {
  switch (write.field) {
    case "tag":
      return client.database.todos.update({ id, fields: { tag: write.value } });
    case "priority":
      return client.database.todos.update({ id, fields: { priority: write.value } });
    case "title":
      return client.database.todos.update({ id, fields: { title: write.value } });
  }
}

export const trellis: PeerBench = {
  async W1(config) {
    const batch = await measureInsert(config, async () => {
      const client = createClient({ schema });
      return (todos) => insertAll(client, todos);
    });
    const loop = await measureInsert(
      config,
      async () => {
        const client = createClient({ schema });
        return async (todos) => {
          for (const todo of todos) {
            const result = await client.database.todos.create(fieldsOf(todo));
            if (result.error) throw new Error(`create failed: ${result.error.message}`);
          }
        };
      },
      1,
    );
    return [
      { workload: "W1", peer: "trellis", label: "Trellis (batch.execute)", metrics: batch },
      { workload: "W1", peer: "trellis", label: "Trellis (loop of create)", isInfo: true, metrics: loop },
    ];
  },

  async W2(config) {
    const metrics = await measureQueries(config, async (todos) => {
      const client = replayingClient(todos);
      await insertAll(client, todos);
      return async ({ tag, threshold }) => {
        const result = await client.database.todos.query({
          fields: ALL_FIELDS,
          where: { priority: { greaterThan: threshold }, tag },
          orderBy: ["createdAt", "desc"],
          limit: W2_LIMIT,
        });
        if (result.error) throw new Error(`query failed: ${result.error.message}`);
        return result.data.map((doc) => doc.id);
      };
    });
    return [{ workload: "W2", peer: "trellis", label: "Trellis (query)", metrics }];
  },

  async W3(config) {
    const todos = makeTodos(config.w3Docs, config.seed);
    const tracker = new NotifyTracker();
    const setupStart = performance.now();
    const client = replayingClient(todos);
    await insertAll(client, todos);
    const subscriptions = w3Queries(config.w3Queries).map(({ tag, low, high }) =>
      client.database.todos.subscribe(
        {
          fields: ALL_FIELDS,
          where: { tag, priority: { greaterThanOrEqual: low, lessThanOrEqual: high } },
          orderBy: ["createdAt", "desc"],
          limit: W3_LIMIT,
        },
        tracker.notify,
      ),
    );
    const setupMs = performance.now() - setupStart;
    const ids = todos.map((todo) => todo.id);
    const metrics = await measureWrites(
      config,
      w3Writes(config.w3Writes, config.w3Docs, config.seed),
      async (write) => {
        const result = await update(client, ids[write.doc]!, write);
        if (result.error) throw new Error(`update failed: ${result.error.message}`);
      },
      tracker,
    );
    const finalChecksum =
      metrics.isComplete === 1
        ? resultsChecksum(subscriptions.map((subscription) => (subscription.getCurrentState().data ?? []).map((doc) => doc.id)))
        : "-";
    return [{ workload: "W3", peer: "trellis", label: "Trellis (subscribe)", metrics: { ...metrics, setupMs, finalChecksum } }];
  },

  async W4(config) {
    const metrics = await measureMemory(config, async (count, next) => {
      const client = createClient({ schema });
      await insertAll(
        client,
        (function* () {
          for (let i = 0; i < count; i++) yield next();
        })(),
      );
      return client;
    });
    return [{ workload: "W4", peer: "trellis", label: "Trellis (client, memory)", metrics }];
  },
};
