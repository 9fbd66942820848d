/**
 * TinyBase: a Store with one table; declarative Queries (with result listeners) for W2 and W3,
 * and, for information, the hand-tuned W2 path through an Index sliced by tag and sorted by
 * createdAt. W5: an Index of published posts by author, sorted by createdAt, plus listeners
 * (see below). W6: a Query with `group` (count, sum, avg) and a result listener.
 */
import { createIndexes, createQueries, createStore, type Indexes, type Queries, type Store } from "tinybase";
import {
  type Item,
  makeItems,
  makeTodos,
  makeW5Data,
  type Post,
  samePosts,
  type TagAggregate,
  type Todo,
  type User,
  type UserWithPosts,
  W2_LIMIT,
  type W2Query,
  W3_LIMIT,
  w3Queries,
  w3Writes,
  W5_LIMIT,
  w5Checksum,
  w5Writes,
  w6Checksum,
  w6Writes,
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
import type { PeerBench } from "../peer.js";
import { timeMs } from "../stats.js";

const TABLE = "todos";

function insertAll(store: Store, todos: readonly Todo[]): void {
  store.transaction(() => {
    for (const todo of todos) {
      store.setRow(TABLE, todo.id, {
        title: todo.title,
        tag: todo.tag,
        priority: todo.priority,
        done: todo.done,
        createdAt: todo.createdAt,
      });
    }
  });
}

function loaded(todos: readonly Todo[]): Store {
  const store = createStore();
  insertAll(store, todos);
  return store;
}

/** Defines `queryId` as W2's filter; rows select every field. */
function defineW2(queries: Queries, queryId: string, { tag, threshold }: W2Query): void {
  queries.setQueryDefinition(queryId, TABLE, ({ select, where }) => {
    for (const cell of ["title", "tag", "priority", "done", "createdAt"]) select(cell);
    where("tag", tag);
    where((getTableCell) => (getTableCell("priority") as number) > threshold);
  });
}

/**
 * W5: TinyBase's Queries have no per-group limit (no window function, no lateral join) and its
 * Relationships are neither filtered nor sorted, so "each user's 10 latest published posts" is
 * an Index of posts sliced by author — only published posts get a slice — and sorted by
 * createdAt descending: a user's posts are the first 10 row ids of its slice.
 */
const LATEST = "latestPublished";

function defineLatest(indexes: Indexes): void {
  indexes.setIndexDefinition(
    LATEST,
    "posts",
    (getCell) => (getCell("published") === true ? (getCell("authorId") as string) : []),
    "createdAt",
    undefined,
    (a, b) => (b as number) - (a as number),
  );
}

function latestOf(store: Store, indexes: Indexes, user: { id: string; name: string }): UserWithPosts {
  const ids = indexes.getSliceRowIds(LATEST, user.id);
  const posts: Array<{ id: string; title: string }> = [];
  for (const id of ids.slice(0, W5_LIMIT)) posts.push({ id, title: store.getCell("posts", id, "title") as string });
  return { id: user.id, name: user.name, posts };
}

/** The users in id order, read from the store. */
function usersOf(store: Store): Array<{ id: string; name: string }> {
  return store
    .getRowIds("users")
    .sort()
    .map((id) => ({ id, name: store.getCell("users", id, "name") as string }));
}

function loadW5(users: readonly User[], posts: readonly Post[]): Store {
  const store = createStore();
  store.transaction(() => {
    for (const user of users) store.setRow("users", user.id, { name: user.name, createdAt: user.createdAt });
    for (const post of posts) {
      store.setRow("posts", post.id, {
        title: post.title,
        published: post.published,
        authorId: post.authorId,
        createdAt: post.createdAt,
      });
    }
  });
  return store;
}

/** W6: `group by tag` with count, sum of score and average priority, as a TinyBase query. */
function defineAggregate(queries: Queries, queryId: string): void {
  queries.setQueryDefinition(queryId, "items", ({ select, group }) => {
    select("tag");
    select("score");
    select("priority");
    group("score", "count").as("count");
    group("score", "sum").as("sumScore");
    group("priority", "avg").as("avgPriority");
  });
}

function aggregateRows(queries: Queries, queryId: string): TagAggregate[] {
  return Object.values(queries.getResultTable(queryId)).map((row) => ({
    tag: row.tag as string,
    count: row.count as number,
    sumScore: row.sumScore as number,
    avgPriority: row.avgPriority as number | undefined,
  }));
}

function loadItems(items: readonly Item[]): Store {
  const store = createStore();
  store.transaction(() => {
    for (const item of items) {
      store.setRow("items", item.id, {
        tag: item.tag,
        priority: item.priority,
        score: item.score,
        createdAt: item.createdAt,
      });
    }
  });
  return store;
}

export const tinybase: PeerBench = {
  async W1(config) {
    const metrics = await measureInsert(config, async () => {
      const store = createStore();
      return (todos) => insertAll(store, todos);
    });
    return [{ workload: "W1", peer: "tinybase", label: "TinyBase (Store, one transaction)", metrics }];
  },

  async W2(config) {
    // The declarative way: define the query, read its sorted page, drop it.
    const viaQueries = await measureQueries(config, async (todos) => {
      const queries = createQueries(loaded(todos));
      return (query) => {
        defineW2(queries, "w2", query);
        const ids = queries.getResultSortedRowIds("w2", "createdAt", true, 0, W2_LIMIT);
        for (const id of ids) queries.getResultRow("w2", id);
        queries.delQueryDefinition("w2");
        return ids;
      };
    });
    // The hand-tuned way: an index of rows by tag, sorted by createdAt descending, then a scan.
    const viaIndex = await measureQueries(config, async (todos) => {
      const store = loaded(todos);
      const indexes = createIndexes(store);
      indexes.setIndexDefinition(
        "byTag",
        TABLE,
        "tag",
        "createdAt",
        undefined,
        (a, b) => (b as number) - (a as number),
      );
      return ({ tag, threshold }) => {
        const ids: string[] = [];
        for (const id of indexes.getSliceRowIds("byTag", tag)) {
          if ((store.getCell(TABLE, id, "priority") as number) <= threshold) continue;
          store.getRow(TABLE, id);
          ids.push(id);
          if (ids.length === W2_LIMIT) break;
        }
        return ids;
      };
    });
    return [
      { workload: "W2", peer: "tinybase", label: "TinyBase (Queries)", metrics: viaQueries },
      { workload: "W2", peer: "tinybase", label: "TinyBase (Index slice + scan)", isInfo: true, metrics: viaIndex },
    ];
  },

  async W3(config) {
    const todos = makeTodos(config.w3Docs, config.seed);
    const tracker = new NotifyTracker();
    const setupStart = performance.now();
    const store = loaded(todos);
    const queries = createQueries(store);
    for (const [k, { tag, low, high }] of w3Queries(config.w3Queries).entries()) {
      const queryId = `q${k}`;
      queries.setQueryDefinition(queryId, TABLE, ({ select, where }) => {
        for (const cell of ["title", "tag", "priority", "done", "createdAt"]) select(cell);
        where("tag", tag);
        where((getTableCell) => {
          const priority = getTableCell("priority") as number;
          return priority >= low && priority <= high;
        });
      });
      queries.addResultSortedRowIdsListener(queryId, "createdAt", true, 0, W3_LIMIT, tracker.notify);
    }
    const setupMs = performance.now() - setupStart;
    const ids = todos.map((todo) => todo.id);
    const metrics = await measureWrites(
      config,
      w3Writes(config.w3Writes, config.w3Docs, config.seed),
      // setCell is its own transaction: listeners run before it returns.
      (write) => store.setCell(TABLE, ids[write.doc]!, write.field, write.value),
      tracker,
    );
    const finalChecksum =
      metrics.isComplete === 1
        ? resultsChecksum(
            queries
              .getQueryIds()
              .map((queryId) => queries.getResultSortedRowIds(queryId, "createdAt", true, 0, W3_LIMIT)),
          )
        : "-";
    return [
      {
        workload: "W3",
        peer: "tinybase",
        label: "TinyBase (Queries + sorted listeners)",
        metrics: { ...metrics, setupMs, finalChecksum },
      },
    ];
  },

  async W5(config) {
    const { users, posts } = makeW5Data(config.w5Users, config.w5Posts, config.seed);
    let store: Store | undefined;
    const loadMs = await timeMs(() => (store = loadW5(users, posts)));
    const sizes = { users: users.length, posts: posts.length, loadMs };
    // One-shot: define the Index (TinyBase builds it over every post), read, drop it.
    const indexes = createIndexes(store!);
    const oneShot = await measureOneShot(
      config,
      config.w5Reps,
      () => {
        defineLatest(indexes);
        const result = usersOf(store!).map((user) => latestOf(store!, indexes, user));
        indexes.delIndexDefinition(LATEST);
        return result;
      },
      w5Checksum,
    );
    // For information: reads from an Index kept defined (its build is the first run).
    defineLatest(indexes);
    const kept = await measureOneShot(
      config,
      config.w5Reps,
      () => usersOf(store!).map((user) => latestOf(store!, indexes, user)),
      w5Checksum,
    );
    indexes.delIndexDefinition(LATEST);
    store = undefined;

    // Live: the kept Index, a listener for its changed slices (published flips, new authors) and
    // one for titles of published posts; after each write the touched users' rows are rebuilt
    // and, when one reads differently, a new result array goes to the callback.
    const tracker = new NotifyTracker();
    const setupStart = performance.now();
    const liveStore = loadW5(users, posts);
    const liveIndexes = createIndexes(liveStore);
    defineLatest(liveIndexes);
    const sortedUsers = usersOf(liveStore);
    let result = sortedUsers.map((user) => latestOf(liveStore, liveIndexes, user));
    const positions = new Map(result.map((row, i) => [row.id, i]));
    const dirty = new Set<string>();
    liveIndexes.addSliceRowIdsListener(LATEST, null, (_indexes, _indexId, sliceId) => dirty.add(sliceId));
    liveStore.addCellListener("posts", null, "title", (_store, _tableId, rowId) => {
      if (liveStore.getCell("posts", rowId, "published") === true)
        dirty.add(liveStore.getCell("posts", rowId, "authorId") as string);
    });
    const setupMs = performance.now() - setupStart;
    const postIds = posts.map((post) => post.id);
    const metrics = await measureWrites(
      config,
      w5Writes(config.w5Writes, users, posts, config.seed),
      (write) => {
        // setCell is its own transaction: the Index and the listeners are updated before it returns.
        liveStore.setCell("posts", postIds[write.post]!, write.field, write.value);
        if (dirty.size === 0) return;
        let next: UserWithPosts[] | undefined;
        for (const userId of dirty) {
          const at = positions.get(userId)!;
          const row = latestOf(liveStore, liveIndexes, sortedUsers[at]!);
          if (samePosts(row, result[at]!)) continue;
          next ??= result.slice();
          next[at] = row;
        }
        dirty.clear();
        if (next === undefined) return;
        result = next;
        tracker.notify();
      },
      tracker,
      config.w5BudgetMs,
    );
    const finalChecksum = metrics.isComplete === 1 ? w5Checksum(result) : "-";
    return [
      {
        workload: "W5",
        peer: "tinybase",
        label: "TinyBase (Index by author; live: + listeners)",
        metrics: { ...sizes, ...oneShot, ...metrics, setupMs, finalChecksum },
      },
      {
        workload: "W5",
        peer: "tinybase",
        label: "TinyBase (reads of a kept Index)",
        isInfo: true,
        metrics: { ...sizes, ...kept },
      },
    ];
  },

  async W6(config) {
    const items = makeItems(config.w6Docs, config.seed);
    let store: Store | undefined;
    const loadMs = await timeMs(() => (store = loadItems(items)));
    // One-shot: define the query (TinyBase computes it over every row), read, drop it.
    const queries = createQueries(store!);
    const oneShot = await measureOneShot(
      config,
      config.w6Reps,
      () => {
        defineAggregate(queries, "agg");
        const rows = aggregateRows(queries, "agg");
        queries.delQueryDefinition("agg");
        return rows;
      },
      w6Checksum,
    );
    // eslint-disable-next-line no-useless-assignment -- drops the store before the next phase measures
    store = undefined;

    // Live: the query kept defined, a result-table listener; writes are setCell.
    const tracker = new NotifyTracker();
    const setupStart = performance.now();
    const liveStore = loadItems(items);
    const liveQueries = createQueries(liveStore);
    defineAggregate(liveQueries, "agg");
    liveQueries.addResultTableListener("agg", tracker.notify);
    const setupMs = performance.now() - setupStart;
    const ids = items.map((item) => item.id);
    const metrics = await measureWrites(
      config,
      w6Writes(config.w6Writes, config.w6Docs, config.seed),
      (write) => liveStore.setCell("items", ids[write.doc]!, write.field, write.value),
      tracker,
      config.w6BudgetMs,
    );
    const finalChecksum = metrics.isComplete === 1 ? w6Checksum(aggregateRows(liveQueries, "agg")) : "-";
    return [
      {
        workload: "W6",
        peer: "tinybase",
        label: "TinyBase (Queries group; live: result listener)",
        metrics: { docs: items.length, loadMs, ...oneShot, ...metrics, setupMs, finalChecksum },
      },
    ];
  },

  async W4(config) {
    const metrics = await measureMemory(config, async (count, next) => {
      const store = createStore();
      store.transaction(() => {
        for (let i = 0; i < count; i++) {
          const todo = next();
          store.setRow(TABLE, todo.id, {
            title: todo.title,
            tag: todo.tag,
            priority: todo.priority,
            done: todo.done,
            createdAt: todo.createdAt,
          });
        }
      });
      return store;
    });
    return [{ workload: "W4", peer: "tinybase", label: "TinyBase (Store)", metrics }];
  },
};
