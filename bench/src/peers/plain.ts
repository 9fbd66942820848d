/**
 * The plain-JS baseline: a Map of objects, `filter` + `sort` for queries, and for live queries a
 * loop that re-checks every predicate on each write. What a hand-written store costs.
 */
import { makeTodos, type Todo, W2_LIMIT, W3_LIMIT, w3Queries, w3Writes, type W3Write } from "../data.js";
import { measureInsert, measureMemory, measureQueries, measureWrites, NotifyTracker, resultsChecksum } from "../harness.js";
import type { PeerBench } from "../peer.js";

type MutableTodo = { -readonly [K in keyof Todo]: Todo[K] };

function copy(todo: Todo): MutableTodo {
  return { id: todo.id, title: todo.title, tag: todo.tag, priority: todo.priority, done: todo.done, createdAt: todo.createdAt };
}

export const plain: PeerBench = {
  async W1(config) {
    const metrics = await measureInsert(config, async () => {
      const docs = new Map<string, MutableTodo>();
      return (todos) => {
        for (const todo of todos) docs.set(todo.id, copy(todo));
      };
    });
    return [{ workload: "W1", peer: "plain", label: "plain JS (Map)", metrics }];
  },

  async W2(config) {
    const metrics = await measureQueries(config, async (todos) => {
      const docs = new Map<string, MutableTodo>();
      for (const todo of todos) docs.set(todo.id, copy(todo));
      return ({ tag, threshold }) => {
        const matches: MutableTodo[] = [];
        for (const doc of docs.values()) if (doc.priority > threshold && doc.tag === tag) matches.push(doc);
        matches.sort((a, b) => b.createdAt - a.createdAt);
        return matches.slice(0, W2_LIMIT).map((doc) => doc.id);
      };
    });
    return [{ workload: "W2", peer: "plain", label: "plain JS (filter+sort)", metrics }];
  },

  async W3(config) {
    const writes = w3Writes(config.w3Writes, config.w3Docs, config.seed);
    const queries = w3Queries(config.w3Queries);
    const visibleWindows = (docs: readonly Todo[], isMember: (k: number, doc: Todo) => boolean) =>
      queries.map((_, k) =>
        docs
          .filter((doc) => isMember(k, doc))
          .sort((a, b) => b.createdAt - a.createdAt)
          .slice(0, W3_LIMIT)
          .map((doc) => doc.id),
      );

    // The baseline: each write re-checks every live predicate against the document before and
    // after the change; membership changed where the answers differ.
    const lean = await (async () => {
      const docs: Todo[] = makeTodos(config.w3Docs, config.seed);
      const tracker = new NotifyTracker();
      const live = queries.map(({ tag, low, high }) => ({
        test: (doc: Todo) => doc.tag === tag && doc.priority >= low && doc.priority <= high,
        callback: tracker.notify,
      }));
      const write = (change: W3Write) => {
        const before = docs[change.doc]!;
        const after = { ...before, [change.field]: change.value };
        docs[change.doc] = after;
        for (const query of live) if (query.test(before) !== query.test(after)) query.callback();
      };
      const metrics = await measureWrites(config, writes, write, tracker);
      const finalChecksum =
        metrics.isComplete === 1 ? resultsChecksum(visibleWindows(docs, (k, doc) => live[k]!.test(doc))) : "-";
      return { ...metrics, setupMs: 0, finalChecksum };
    })();

    // The same loop keeping each query's matching ids in a Set, as an app holding results might:
    // 1,000 Set lookups per write, mostly cache misses, cost several times the predicates.
    const withSets = await (async () => {
      const docs = makeTodos(config.w3Docs, config.seed).map(copy);
      const tracker = new NotifyTracker();
      const live = queries.map(({ tag, low, high }) => ({
        test: (doc: MutableTodo) => doc.tag === tag && doc.priority >= low && doc.priority <= high,
        members: new Set<string>(),
        callback: tracker.notify,
      }));
      for (const query of live) for (const doc of docs) if (query.test(doc)) query.members.add(doc.id);
      const write = (change: W3Write) => {
        const doc = docs[change.doc]!;
        if (change.field === "priority") doc.priority = change.value;
        else doc[change.field] = change.value;
        for (const query of live) {
          const isMember = query.test(doc);
          if (isMember === query.members.has(doc.id)) continue;
          if (isMember) query.members.add(doc.id);
          else query.members.delete(doc.id);
          query.callback();
        }
      };
      const metrics = await measureWrites(config, writes, write, tracker);
      const finalChecksum =
        metrics.isComplete === 1 ? resultsChecksum(visibleWindows(docs, (k, doc) => live[k]!.members.has(doc.id))) : "-";
      return { ...metrics, setupMs: 0, finalChecksum };
    })();

    return [
      { workload: "W3", peer: "plain", label: "plain JS (re-check loop)", metrics: lean },
      { workload: "W3", peer: "plain", label: "plain JS (re-check loop + Set per query)", isInfo: true, metrics: withSets },
    ];
  },

  async W4(config) {
    const metrics = await measureMemory(config, async (count, next) => {
      const docs = new Map<string, MutableTodo>();
      for (let i = 0; i < count; i++) {
        const todo = next();
        docs.set(todo.id, copy(todo));
      }
      return docs;
    });
    return [{ workload: "W4", peer: "plain", label: "plain JS (Map)", metrics }];
  },
};
