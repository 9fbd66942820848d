/**
 * Trellis, through its public client API only: `batch.execute` for bulk inserts, `query` for
 * one-shot queries (W5 with a reverse relation, W6 with aggregations and groupBy), `subscribe`
 * for live queries, `update` for writes.
 *
 * For W2, W3, W5 and W6 the client is given the shared document ids (`generateId`) and a clock
 * that advances 1 ms per write (`now`), so the auto field `createdAt` of document i equals the
 * other peers' `createdAt` (BASE_TIME + i) and every peer must return the very same rows.
 */
import { createClient } from "@trellis/client";
import { createSchema, type DatabaseResult, t } from "@trellis/core";
import {
  BASE_TIME,
  type Item,
  makeItems,
  makeTodos,
  makeW5Data,
  type TagAggregate,
  type Todo,
  type UserWithPosts,
  W2_LIMIT,
  W3_LIMIT,
  w3Shape,
  w3Queries,
  w3Writes,
  type W3Write,
  W5_LIMIT,
  w5Checksum,
  w5Writes,
  type W5Write,
  w6Checksum,
  w6Writes,
  type W6Write,
} from "../data.js";
import {
  measureInsert,
  measureMemory,
  measureOneShot,
  measureQueries,
  measureWrites,
  NotifyTracker,
  resultsChecksum,
} from "../harness.js";
import type { BenchConfig } from "../config.js";
import {
  type PeerBench,
  type ResultRow,
  TRELLIS_W6_LIVE,
  TRELLIS_W6_RERUN,
  TRELLIS_W7_LOOP,
  TRELLIS_W7_MANY,
} from "../peer.js";
import { timeMs } from "../stats.js";

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

// ---- W5: users with their latest published posts ----

const w5Schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }) },
    posts: {
      title: t.string({ fallback: "" }),
      published: t.boolean({ fallback: false }),
      authorId: t.ref("users"),
    },
  },
});

type W5Client = ReturnType<typeof createClient<typeof w5Schema>>;

/**
 * A W5 client holding the shared users and posts: ids replayed in creation order and a clock
 * advancing 1 ms per write, so user i is created at BASE_TIME + i and post j right after the
 * users, as in the other peers.
 */
async function loadW5(data: ReturnType<typeof makeW5Data>): Promise<W5Client> {
  const ids = [...data.users.map((user) => user.id), ...data.posts.map((post) => post.id)];
  let nextId = 0;
  let ticks = 0;
  const client = createClient({
    schema: w5Schema,
    clientId: "bench",
    generateId: () => ids[nextId++] ?? `extra-${nextId}`,
    now: () => BASE_TIME + ticks++,
  });
  const batch = client.database.batch;
  await checked(batch.execute(data.users.map((user) => batch.users.create({ name: user.name }))));
  await checked(
    batch.execute(
      data.posts.map((post) =>
        batch.posts.create({ title: post.title, published: post.published, authorId: post.authorId }),
      ),
    ),
  );
  return client;
}

/** Awaits a `batch.execute` and throws if it or any of its operations failed. */
async function checked(pending: Promise<DatabaseResult<DatabaseResult<unknown>[]>>): Promise<void> {
  const result = await pending;
  if (result.error) throw new Error(`batch.execute failed: ${result.error.message}`);
  const failed = result.data.find((each) => each.error !== undefined);
  if (failed?.error) throw new Error(`batch create failed: ${failed.error.message}`);
}

/** W5's query, as in the issue. */
const W5_QUERY = {
  fields: {
    id: true,
    name: true,
    posts: {
      fields: { id: true, title: true },
      where: { published: true },
      orderBy: ["createdAt", "desc"],
      limit: W5_LIMIT,
    },
  },
} as const;

async function usersWithPosts(client: W5Client): Promise<UserWithPosts[]> {
  const result = await client.database.users.query(W5_QUERY);
  if (result.error) throw new Error(`query failed: ${result.error.message}`);
  return result.data;
}

function updatePost(client: W5Client, id: string, write: W5Write) {
  switch (write.field) {
    case "title":
      return client.database.posts.update({ id, fields: { title: write.value } });
    case "published":
      return client.database.posts.update({ id, fields: { published: write.value } });
    case "authorId":
      return client.database.posts.update({ id, fields: { authorId: write.value } });
  }
}

// ---- W6: group by tag ----

const w6Schema = createSchema({
  entities: {
    items: { tag: t.string({ fallback: "" }), priority: t.number({ fallback: 0 }), score: t.number({ fallback: 0 }) },
  },
});

type W6Client = ReturnType<typeof createClient<typeof w6Schema>>;

async function loadItems(items: readonly Item[]): Promise<W6Client> {
  let nextId = 0;
  let ticks = 0;
  const client = createClient({
    schema: w6Schema,
    clientId: "bench",
    generateId: () => items[nextId++]?.id ?? `extra-${nextId}`,
    now: () => BASE_TIME + ticks++,
  });
  const batch = client.database.batch;
  await checked(
    batch.execute(
      items.map((item) => batch.items.create({ tag: item.tag, priority: item.priority, score: item.score })),
    ),
  );
  return client;
}

/** W6's query: `group by tag` with count, sum of score and average priority. */
const W6_QUERY = {
  aggregations: { count: { count: "*" }, sumScore: { sum: "score" }, avgPriority: { avg: "priority" } },
  groupBy: ["tag"],
} as const;

async function aggregateOnce(client: W6Client): Promise<TagAggregate[]> {
  const result = await client.database.items.query(W6_QUERY);
  if (result.error) throw new Error(`aggregate query failed: ${result.error.message}`);
  return result.data;
}

function updateItem(client: W6Client, id: string, write: W6Write) {
  switch (write.field) {
    case "tag":
      return client.database.items.update({ id, fields: { tag: write.value } });
    case "priority":
      return client.database.items.update({ id, fields: { priority: write.value } });
    case "score":
      return client.database.items.update({ id, fields: { score: write.value } });
  }
}

/**
 * W7: a fresh local client per repetition (the previous one closed, so its documents do not
 * weigh on the next one's garbage collection), and `insert` of the documents into it.
 */
function freshClients(insert: (client: Client, todos: readonly Todo[]) => Promise<void>) {
  let previous: Client | undefined;
  return async () => {
    await previous?.close();
    const client = createClient({ schema });
    previous = client;
    return (todos: readonly Todo[]) => insert(client, todos);
  };
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

  async W7(config) {
    const many = await measureInsert(
      config,
      freshClients(async (client, todos) => {
        const result = await client.database.todos.createMany(todos.map(fieldsOf));
        if (result.error) throw new Error(`createMany failed: ${result.error.message}`);
        if (result.data.length !== todos.length) throw new Error("createMany returned too few documents");
      }),
    );
    const counted = await measureInsert(
      config,
      freshClients(async (client, todos) => {
        const result = await client.database.todos.createMany(todos.map(fieldsOf), { returnDocuments: false });
        if (result.error) throw new Error(`createMany failed: ${result.error.message}`);
      }),
    );
    const loop = await measureInsert(
      config,
      freshClients(async (client, todos) => {
        for (const todo of todos) {
          const result = await client.database.todos.create(fieldsOf(todo));
          if (result.error) throw new Error(`create failed: ${result.error.message}`);
        }
      }),
    );
    return [
      { workload: "W7", peer: "trellis", label: TRELLIS_W7_MANY, metrics: many },
      {
        workload: "W7",
        peer: "trellis",
        label: "Trellis (createMany, returnDocuments: false)",
        isInfo: true,
        metrics: counted,
      },
      { workload: "W7", peer: "trellis", label: TRELLIS_W7_LOOP, metrics: loop },
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

  W3: (config) => liveWrites(config, "W3"),
  W3L: (config) => liveWrites(config, "W3L"),

  async W5(config) {
    const data = makeW5Data(config.w5Users, config.w5Posts, config.seed);
    let client: W5Client | undefined;
    const loadMs = await timeMs(async () => (client = await loadW5(data)));
    const sizes = { users: data.users.length, posts: data.posts.length, loadMs };
    const oneShot = await measureOneShot(config, config.w5Reps, () => usersWithPosts(client!), w5Checksum);
    client = undefined;

    // Live: one subscription to the same query on a fresh client; writes are posts.update.
    const tracker = new NotifyTracker();
    const setupStart = performance.now();
    const live = await loadW5(data);
    const subscription = live.database.users.subscribe(W5_QUERY, tracker.notify);
    if (subscription.getCurrentState().data === undefined)
      throw new Error("W5: the subscription delivered no first result.");
    const setupMs = performance.now() - setupStart;
    const postIds = data.posts.map((post) => post.id);
    const metrics = await measureWrites(
      config,
      w5Writes(config.w5Writes, data.users, data.posts, config.seed),
      async (write) => {
        const result = await updatePost(live, postIds[write.post]!, write);
        if (result.error) throw new Error(`update failed: ${result.error.message}`);
      },
      tracker,
      config.w5BudgetMs,
    );
    const finalChecksum = metrics.isComplete === 1 ? w5Checksum(subscription.getCurrentState().data ?? []) : "-";
    return [
      {
        workload: "W5",
        peer: "trellis",
        label: "Trellis (query; live: subscribe)",
        metrics: { ...sizes, ...oneShot, ...metrics, setupMs, finalChecksum },
      },
    ];
  },

  async W6(config) {
    const items = makeItems(config.w6Docs, config.seed);
    const ids = items.map((item) => item.id);
    const writes = w6Writes(config.w6Writes, config.w6Docs, config.seed);
    let client: W6Client | undefined;
    const loadMs = await timeMs(async () => (client = await loadItems(items)));
    const oneShot = await measureOneShot(config, config.w6Reps, () => aggregateOnce(client!), w6Checksum);
    client = undefined;

    // Live: a subscription to the aggregate query on a fresh client; writes are items.update.
    const live = await (async () => {
      const tracker = new NotifyTracker();
      const setupStart = performance.now();
      const store = await loadItems(items);
      const subscription = store.database.items.subscribe(W6_QUERY, tracker.notify);
      if (subscription.getCurrentState().data === undefined)
        throw new Error("W6: the subscription delivered no first result.");
      const setupMs = performance.now() - setupStart;
      const metrics = await measureWrites(
        config,
        writes,
        async (write) => {
          const result = await updateItem(store, ids[write.doc]!, write);
          if (result.error) throw new Error(`update failed: ${result.error.message}`);
        },
        tracker,
        config.w6BudgetMs,
      );
      const finalChecksum = metrics.isComplete === 1 ? w6Checksum(subscription.getCurrentState().data ?? []) : "-";
      return { ...metrics, setupMs, finalChecksum };
    })();

    // The target's baseline: no subscription; after each write the aggregate query runs again.
    const rerun = await (async () => {
      const tracker = new NotifyTracker();
      const store = await loadItems(items);
      await aggregateOnce(store);
      const metrics = await measureWrites(
        config,
        writes,
        async (write) => {
          const result = await updateItem(store, ids[write.doc]!, write);
          if (result.error) throw new Error(`update failed: ${result.error.message}`);
          await aggregateOnce(store);
          tracker.notify();
        },
        tracker,
        config.w6RerunBudgetMs,
        20,
      );
      const finalChecksum = metrics.isComplete === 1 ? w6Checksum(await aggregateOnce(store)) : "-";
      return { ...metrics, finalChecksum };
    })();

    return [
      {
        workload: "W6",
        peer: "trellis",
        label: TRELLIS_W6_LIVE,
        metrics: { docs: items.length, loadMs, ...oneShot, ...live },
      },
      { workload: "W6", peer: "trellis", label: TRELLIS_W6_RERUN, metrics: { docs: items.length, ...rerun } },
    ];
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

/** W3 and W3L: writes under live queries. */
async function liveWrites(config: BenchConfig, workload: "W3" | "W3L"): Promise<ResultRow[]> {
  const { docCount, tagCount, queryCount } = w3Shape(config, workload);
  const todos = makeTodos(docCount, config.seed, tagCount);
  const tracker = new NotifyTracker();
  const setupStart = performance.now();
  const client = replayingClient(todos);
  await insertAll(client, todos);
  const subscriptions = w3Queries(queryCount, tagCount).map(({ tag, low, high }) =>
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
    w3Writes(config.w3Writes, docCount, config.seed, tagCount),
    async (write) => {
      const result = await update(client, ids[write.doc]!, write);
      if (result.error) throw new Error(`update failed: ${result.error.message}`);
    },
    tracker,
  );
  const finalChecksum =
    metrics.isComplete === 1
      ? resultsChecksum(
          subscriptions.map((subscription) => (subscription.getCurrentState().data ?? []).map((doc) => doc.id)),
        )
      : "-";
  return [
    {
      workload,
      peer: "trellis",
      label: "Trellis (subscribe)",
      metrics: { ...metrics, setupMs, finalChecksum },
    },
  ];
}
