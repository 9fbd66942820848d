/**
 * Triplit's embeddable database (`@triplit/db`, in memory, no server or client). Its
 * subscriptions are incremental views that the Triplit client refreshes after writes; here the
 * benchmark does what the client does after each write: `updateQueryViews()` then
 * `broadcastToQuerySubscribers()`, which runs the callbacks.
 */
import { DB, Schema as S } from "@triplit/db";
import { makeTodos, type Todo, W2_LIMIT, W3_LIMIT, w3Queries, w3Writes, type W3Write } from "../data.js";
import {
  measureInsert,
  measureMemory,
  measureQueries,
  measureWrites,
  NotifyTracker,
  resultsChecksum,
} from "../harness.js";
import type { PeerBench } from "../peer.js";

const collections = S.Collections({
  todos: {
    schema: S.Schema({
      id: S.Id(),
      title: S.String(),
      tag: S.String(),
      priority: S.Number(),
      done: S.Boolean(),
      createdAt: S.Date(),
    }),
  },
});

function openDatabase() {
  return new DB({ schema: { collections } });
}

type TriplitDb = ReturnType<typeof openDatabase>;

async function insertAll(db: TriplitDb, todos: Iterable<Todo>): Promise<void> {
  await db.transact(async (tx) => {
    for (const todo of todos) {
      await tx.insert("todos", {
        id: todo.id,
        title: todo.title,
        tag: todo.tag,
        priority: todo.priority,
        done: todo.done,
        createdAt: new Date(todo.createdAt),
      });
    }
  });
}

function update(db: TriplitDb, id: string, write: W3Write): Promise<void> {
  switch (write.field) {
    case "tag":
      return db.update("todos", id, { tag: write.value });
    case "priority":
      return db.update("todos", id, { priority: write.value });
    case "title":
      return db.update("todos", id, { title: write.value });
  }
}

/** Refreshes the subscribed views and runs the callbacks of those that changed. */
async function deliver(db: TriplitDb): Promise<void> {
  await db.updateQueryViews();
  db.broadcastToQuerySubscribers();
}

export const triplit: PeerBench = {
  async W1(config) {
    const metrics = await measureInsert(config, async () => {
      const db = openDatabase();
      return (todos) => insertAll(db, todos);
    });
    return [{ workload: "W1", peer: "triplit", label: "Triplit (@triplit/db, one transaction)", metrics }];
  },

  async W2(config) {
    const metrics = await measureQueries(config, async (todos) => {
      const db = openDatabase();
      await insertAll(db, todos);
      return async ({ tag, threshold }) => {
        const query = db
          .query("todos")
          .Where([
            ["priority", ">", threshold],
            ["tag", "=", tag],
          ])
          .Order(["createdAt", "DESC"])
          .Limit(W2_LIMIT);
        const rows = await db.fetch(query);
        return rows.map((row) => row.id);
      };
    });
    return [{ workload: "W2", peer: "triplit", label: "Triplit (db.fetch)", metrics }];
  },

  async W3(config) {
    const todos = makeTodos(config.w3Docs, config.seed);
    const tracker = new NotifyTracker();
    const setupStart = performance.now();
    const db = openDatabase();
    await insertAll(db, todos);
    // The latest result each subscription delivered, for the cross-check.
    const latest: string[][] = [];
    for (const [k, { tag, low, high }] of w3Queries(config.w3Queries).entries()) {
      const query = db
        .query("todos")
        .Where([
          ["tag", "=", tag],
          ["priority", ">=", low],
          ["priority", "<=", high],
        ])
        .Order(["createdAt", "DESC"])
        .Limit(W3_LIMIT);
      latest.push([]);
      db.subscribe(query, (results) => {
        latest[k] = results.map((row) => row.id);
        tracker.notify();
      });
    }
    // The first refresh computes every subscription's initial result.
    await deliver(db);
    const setupMs = performance.now() - setupStart;
    const ids = todos.map((todo) => todo.id);
    const metrics = await measureWrites(
      config,
      w3Writes(config.w3Writes, config.w3Docs, config.seed),
      async (write) => {
        await update(db, ids[write.doc]!, write);
        await deliver(db);
      },
      tracker,
    );
    const finalChecksum = metrics.isComplete === 1 ? resultsChecksum(latest) : "-";
    return [
      {
        workload: "W3",
        peer: "triplit",
        label: "Triplit (subscribe + view refresh)",
        metrics: { ...metrics, setupMs, finalChecksum },
      },
    ];
  },

  async W4(config) {
    const metrics = await measureMemory(config, async (count, next) => {
      const db = openDatabase();
      await insertAll(
        db,
        (function* () {
          for (let i = 0; i < count; i++) yield next();
        })(),
      );
      return db;
    });
    return [{ workload: "W4", peer: "triplit", label: "Triplit (@triplit/db)", metrics }];
  },
};
