/**
 * better-sqlite3 with an in-memory database: one table, an index on the filtered columns
 * (tag, priority), prepared statements, inserts in one transaction. W5 and W6 (one-shot only):
 * a window-function query over users and posts, and `GROUP BY tag`.
 */
import Database from "better-sqlite3";
import {
  makeItems,
  makeW5Data,
  type TagAggregate,
  type Todo,
  type UserWithPosts,
  W2_LIMIT,
  W5_LIMIT,
  w5Checksum,
  w6Checksum,
} from "../data.js";
import { measureInsert, measureOneShot, measureQueries } from "../harness.js";
import { type PeerBench, SQLITE_W7_BULK } from "../peer.js";
import { timeMs } from "../stats.js";

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
    for (const todo of todos)
      insertOne.run(todo.id, todo.title, todo.tag, todo.priority, todo.done ? 1 : 0, todo.createdAt);
  });
  return { db, insertAll };
}

/**
 * W5: users and posts, with an index serving "posts of an author, published, newest first".
 */
function openW5(config: Parameters<NonNullable<PeerBench["W5"]>>[0]) {
  const { users, posts } = makeW5Data(config.w5Users, config.w5Posts, config.seed);
  const db = new Database(":memory:");
  db.exec("CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL, createdAt INTEGER NOT NULL)");
  db.exec(
    "CREATE TABLE posts (id TEXT PRIMARY KEY, title TEXT NOT NULL, published INTEGER NOT NULL, authorId TEXT NOT NULL, " +
      "createdAt INTEGER NOT NULL)",
  );
  db.exec("CREATE INDEX posts_author_published_created ON posts (authorId, published, createdAt)");
  const insertUser = db.prepare<[string, string, number]>("INSERT INTO users (id, name, createdAt) VALUES (?, ?, ?)");
  const insertPost = db.prepare<[string, string, number, string, number]>(
    "INSERT INTO posts (id, title, published, authorId, createdAt) VALUES (?, ?, ?, ?, ?)",
  );
  const loadMs = performance.now();
  db.transaction(() => {
    for (const user of users) insertUser.run(user.id, user.name, user.createdAt);
    for (const post of posts)
      insertPost.run(post.id, post.title, post.published ? 1 : 0, post.authorId, post.createdAt);
  })();
  db.exec("ANALYZE");
  return { db, users, posts, loadMs: performance.now() - loadMs };
}

interface W5Row {
  userId: string;
  name: string;
  postId: string | null;
  title: string | null;
}

/** Folds joined rows (ordered by user) into users with their posts. */
function nest(rows: readonly W5Row[]): UserWithPosts[] {
  const result: UserWithPosts[] = [];
  let current: { id: string; name: string; posts: Array<{ id: string; title: string }> } | undefined;
  for (const row of rows) {
    if (current === undefined || current.id !== row.userId)
      result.push((current = { id: row.userId, name: row.name, posts: [] }));
    if (row.postId !== null) current.posts.push({ id: row.postId, title: row.title! });
  }
  return result;
}

export const sqlite: PeerBench = {
  async W1(config) {
    const metrics = await measureInsert(config, async () => {
      const { insertAll } = openDatabase();
      return (todos) => insertAll(todos);
    });
    return [{ workload: "W1", peer: "sqlite", label: "SQLite (better-sqlite3, :memory:)", metrics }];
  },

  async W7(config) {
    const metrics = await measureInsert(config, async () => {
      const { insertAll } = openDatabase();
      return (todos) => insertAll(todos);
    });
    return [{ workload: "W7", peer: "sqlite", label: SQLITE_W7_BULK, metrics }];
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

  async W5(config) {
    const { db, users, posts, loadMs } = openW5(config);
    // One statement: number each author's published posts newest first, keep the first ten.
    const windowed = db.prepare<[number], W5Row>(
      `SELECT u.id AS userId, u.name AS name, p.id AS postId, p.title AS title
       FROM users u
       LEFT JOIN (
         SELECT id, title, authorId, createdAt, rn FROM (
           SELECT id, title, authorId, createdAt, ROW_NUMBER() OVER (PARTITION BY authorId ORDER BY createdAt DESC) AS rn
           FROM posts WHERE published = 1
         ) WHERE rn <= ?
       ) p ON p.authorId = u.id
       ORDER BY u.id, p.createdAt DESC`,
    );
    const oneShot = await measureOneShot(config, config.w5Reps, () => nest(windowed.all(W5_LIMIT)), w5Checksum);
    // For information: the users, then one indexed LIMIT statement per user.
    const selectUsers = db.prepare<[], { id: string; name: string }>("SELECT id, name FROM users ORDER BY id");
    const selectPosts = db.prepare<[string, number], { id: string; title: string }>(
      "SELECT id, title FROM posts WHERE authorId = ? AND published = 1 ORDER BY createdAt DESC LIMIT ?",
    );
    const perUser = await measureOneShot(
      config,
      config.w5Reps,
      () =>
        selectUsers
          .all()
          .map((user): UserWithPosts => ({ id: user.id, name: user.name, posts: selectPosts.all(user.id, W5_LIMIT) })),
      w5Checksum,
    );
    const sizes = { users: users.length, posts: posts.length, loadMs };
    return [
      {
        workload: "W5",
        peer: "sqlite",
        label: "SQLite (window function, one statement)",
        metrics: { ...sizes, ...oneShot },
      },
      {
        workload: "W5",
        peer: "sqlite",
        label: "SQLite (a LIMIT statement per user)",
        isInfo: true,
        metrics: { ...sizes, ...perUser },
      },
    ];
  },

  async W6(config) {
    const items = makeItems(config.w6Docs, config.seed);
    const db = new Database(":memory:");
    db.exec(
      "CREATE TABLE items (id TEXT PRIMARY KEY, tag TEXT NOT NULL, priority INTEGER NOT NULL, score INTEGER NOT NULL, " +
        "createdAt INTEGER NOT NULL)",
    );
    const insert = db.prepare<[string, string, number, number, number]>(
      "INSERT INTO items (id, tag, priority, score, createdAt) VALUES (?, ?, ?, ?, ?)",
    );
    const loadMs = await timeMs(() =>
      db.transaction(() => {
        for (const item of items) insert.run(item.id, item.tag, item.priority, item.score, item.createdAt);
      })(),
    );
    const select = db.prepare<[], TagAggregate>(
      "SELECT tag, COUNT(*) AS count, SUM(score) AS sumScore, AVG(priority) AS avgPriority FROM items GROUP BY tag ORDER BY tag",
    );
    const oneShot = await measureOneShot(config, config.w6Reps, () => select.all(), w6Checksum);
    return [
      {
        workload: "W6",
        peer: "sqlite",
        label: "SQLite (GROUP BY)",
        metrics: { docs: items.length, loadMs, ...oneShot },
      },
    ];
  },
};
