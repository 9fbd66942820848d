/**
 * TinyBase: a Store with one table; declarative Queries (with result listeners) for W2 and W3,
 * and, for information, the hand-tuned W2 path through an Index sliced by tag and sorted by
 * createdAt.
 */
import { createIndexes, createQueries, createStore, type Queries, type Store } from "tinybase";
import { makeTodos, type Todo, W2_LIMIT, type W2Query, W3_LIMIT, w3Queries, w3Writes } from "../data.js";
import { measureInsert, measureMemory, measureQueries, measureWrites, NotifyTracker, resultsChecksum } from "../harness.js";
import type { PeerBench } from "../peer.js";

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
      indexes.setIndexDefinition("byTag", TABLE, "tag", "createdAt", undefined, (a, b) => (b as number) - (a as number));
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
        ? resultsChecksum(queries.getQueryIds().map((queryId) => queries.getResultSortedRowIds(queryId, "createdAt", true, 0, W3_LIMIT)))
        : "-";
    return [
      { workload: "W3", peer: "tinybase", label: "TinyBase (Queries + sorted listeners)", metrics: { ...metrics, setupMs, finalChecksum } },
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
