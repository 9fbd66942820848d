/**
 * better-sqlite3 with an in-memory database: one table, an index on the filtered columns
 * (tag, priority), prepared statements, inserts in one transaction.
 */
import Database from "better-sqlite3";
import { type Todo, W2_LIMIT } from "../data.js";
import { measureInsert, measureQueries } from "../harness.js";
import type { PeerBench } from "../peer.js";

interface Row {
  id: string;
  title: string;
  tag: string;
  priority: number;
  done: number;
  createdAt: number;
}

function openDatabase() {
  const db = new Database(":memory:");
  db.exec(
    "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, tag TEXT NOT NULL, priority INTEGER NOT NULL, " +
      "done INTEGER NOT NULL, createdAt INTEGER NOT NULL)",
  );
  db.exec("CREATE INDEX todos_tag_priority ON todos (tag, priority)");
  const insertOne = db.prepare<[string, string, string, number, number, number]>(
    "INSERT INTO todos (id, title, tag, priority, done, createdAt) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const insertAll = db.transaction((todos: readonly Todo[]) => {
    for (const todo of todos) insertOne.run(todo.id, todo.title, todo.tag, todo.priority, todo.done ? 1 : 0, todo.createdAt);
  });
  return { db, insertAll };
}

export const sqlite: PeerBench = {
  async W1(config) {
    const metrics = await measureInsert(config, async () => {
      const { insertAll } = openDatabase();
      return (todos) => insertAll(todos);
    });
    return [{ workload: "W1", peer: "sqlite", label: "SQLite (better-sqlite3, :memory:)", metrics }];
  },

  async W2(config) {
    const metrics = await measureQueries(config, async (todos) => {
      const { db, insertAll } = openDatabase();
      insertAll(todos);
      const select = db.prepare<[number, string, number], Row>(
        "SELECT id, title, tag, priority, done, createdAt FROM todos WHERE priority > ? AND tag = ? ORDER BY createdAt DESC LIMIT ?",
      );
      return ({ tag, threshold }) => select.all(threshold, tag, W2_LIMIT).map((row) => row.id);
    });
    return [{ workload: "W2", peer: "sqlite", label: "SQLite (better-sqlite3, :memory:)", metrics }];
  },
};
