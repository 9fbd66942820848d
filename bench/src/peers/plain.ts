/**
 * The plain-JS baseline: a Map of objects, `filter` + `sort` for queries, and for live queries a
 * loop that re-checks every predicate on each write. What a hand-written store costs. W5: posts
 * kept per author in createdAt order; W6: a scan, and per-group counters kept live.
 */
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
import type { PeerBench, ResultRow } from "../peer.js";
import { timeMs } from "../stats.js";

type MutableTodo = { -readonly [K in keyof Todo]: Todo[K] };

function copy(todo: Todo): MutableTodo {
  return {
    id: todo.id,
    title: todo.title,
    tag: todo.tag,
    priority: todo.priority,
    done: todo.done,
    createdAt: todo.createdAt,
  };
}

type MutablePost = { -readonly [K in keyof Post]: Post[K] };
type MutableItem = { -readonly [K in keyof Item]: Item[K] };

/**
 * W5's hand-written store: users in id order, posts by id, and per author the posts in
 * `createdAt` order (an index an app would keep), so a user's latest published posts are a
 * backward scan that stops after W5_LIMIT hits.
 */
class PostsByAuthor {
  readonly users: User[];
  readonly posts = new Map<string, MutablePost>();
  readonly byAuthor = new Map<string, MutablePost[]>();

  constructor(users: readonly User[], posts: readonly Post[]) {
    this.users = [...users].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const user of this.users) this.byAuthor.set(user.id, []);
    // Posts come in createdAt order, so appending keeps every list sorted.
    for (const post of posts) {
      const copy = { ...post };
      this.posts.set(post.id, copy);
      this.listOf(post.authorId).push(copy);
    }
  }

  listOf(authorId: string): MutablePost[] {
    let list = this.byAuthor.get(authorId);
    if (list === undefined) this.byAuthor.set(authorId, (list = []));
    return list;
  }

  latest(user: User): UserWithPosts {
    const list = this.byAuthor.get(user.id) ?? [];
    const posts: Array<{ id: string; title: string }> = [];
    for (let i = list.length - 1; i >= 0 && posts.length < W5_LIMIT; i--) {
      const post = list[i]!;
      if (post.published) posts.push({ id: post.id, title: post.title });
    }
    return { id: user.id, name: user.name, posts };
  }

  query(): UserWithPosts[] {
    return this.users.map((user) => this.latest(user));
  }

  /** Applies a write; returns the authors whose result may have changed. */
  apply(write: W5Write, postIds: readonly string[]): string[] {
    const post = this.posts.get(postIds[write.post]!)!;
    if (write.field === "title") post.title = write.value;
    else if (write.field === "published") post.published = write.value;
    else {
      const from = post.authorId;
      if (from === write.value) return [from];
      const old = this.listOf(from);
      old.splice(old.indexOf(post), 1);
      const list = this.listOf(write.value);
      let low = 0;
      let high = list.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (list[middle]!.createdAt < post.createdAt) low = middle + 1;
        else high = middle;
      }
      list.splice(low, 0, post);
      post.authorId = write.value;
      return [from, write.value];
    }
    return [post.authorId];
  }
}

/** W6's `group by tag` over the documents, in tag order. */
function aggregateByTag(items: Iterable<MutableItem>): TagAggregate[] {
  const groups = new Map<string, { count: number; sumScore: number; sumPriority: number }>();
  for (const item of items) {
    const group = groups.get(item.tag);
    if (group === undefined) groups.set(item.tag, { count: 1, sumScore: item.score, sumPriority: item.priority });
    else {
      group.count++;
      group.sumScore += item.score;
      group.sumPriority += item.priority;
    }
  }
  return [...groups]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([tag, group]) => ({
      tag,
      count: group.count,
      sumScore: group.sumScore,
      avgPriority: group.sumPriority / group.count,
    }));
}

function sameAggregate(a: TagAggregate, b: TagAggregate): boolean {
  return a.tag === b.tag && a.count === b.count && a.sumScore === b.sumScore && a.avgPriority === b.avgPriority;
}

function applyW6(item: MutableItem, write: W6Write): void {
  if (write.field === "tag") item.tag = write.value;
  else item[write.field] = write.value;
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

  W3: (config) => liveWrites(config, "W3"),
  W3L: (config) => liveWrites(config, "W3L"),

  async W5(config) {
    const { users, posts } = makeW5Data(config.w5Users, config.w5Posts, config.seed);
    const postIds = posts.map((post) => post.id);
    let store: PostsByAuthor | undefined;
    const loadMs = await timeMs(() => (store = new PostsByAuthor(users, posts)));
    const oneShot = await measureOneShot(config, config.w5Reps, () => store!.query(), w5Checksum);

    // Live: the result is kept; a write updates the store, rebuilds the entries of the authors it
    // touched and, when one reads differently, hands a new result array to the callback.
    const tracker = new NotifyTracker();
    const setupStart = performance.now();
    const live = new PostsByAuthor(users, posts);
    let result = live.query();
    const positions = new Map(result.map((row, i) => [row.id, i]));
    const userById = new Map(users.map((user) => [user.id, user]));
    const callback = (rows: readonly UserWithPosts[]) => {
      if (rows.length === 0) throw new Error("empty result");
      tracker.notify();
    };
    const setupMs = performance.now() - setupStart;
    const metrics = await measureWrites(
      config,
      w5Writes(config.w5Writes, users, posts, config.seed),
      (write) => {
        let next: UserWithPosts[] | undefined;
        for (const authorId of live.apply(write, postIds)) {
          const at = positions.get(authorId)!;
          const row = live.latest(userById.get(authorId)!);
          if (samePosts(row, result[at]!)) continue;
          next ??= result.slice();
          next[at] = row;
        }
        if (next === undefined) return;
        result = next;
        callback(result);
      },
      tracker,
      config.w5BudgetMs,
    );
    let finalChecksum = "-";
    if (metrics.isComplete === 1) {
      finalChecksum = w5Checksum(result);
      // The baseline checks itself: its kept result must equal a fresh query.
      if (w5Checksum(live.query()) !== finalChecksum)
        throw new Error("plain W5: the kept result differs from a fresh query.");
    }
    return [
      {
        workload: "W5",
        peer: "plain",
        label: "plain JS (posts by author; rebuild touched authors)",
        metrics: { users: users.length, posts: posts.length, loadMs, ...oneShot, ...metrics, setupMs, finalChecksum },
      },
    ];
  },

  async W6(config) {
    const source = makeItems(config.w6Docs, config.seed);
    let items: MutableItem[] = [];
    const loadMs = await timeMs(() => (items = source.map((item) => ({ ...item }))));
    const writes = w6Writes(config.w6Writes, config.w6Docs, config.seed);
    const oneShot = await measureOneShot(config, config.w6Reps, () => aggregateByTag(items), w6Checksum);

    // Live, incremental: per-group counters; a write moves the document's contribution out of
    // its old group and into its new one, rebuilds those rows and hands new rows to the callback.
    const incremental = await (async () => {
      const tracker = new NotifyTracker();
      const groups = new Map<string, { count: number; sumScore: number; sumPriority: number }>();
      for (const item of items) {
        const group = groups.get(item.tag) ?? { count: 0, sumScore: 0, sumPriority: 0 };
        group.count++;
        group.sumScore += item.score;
        group.sumPriority += item.priority;
        groups.set(item.tag, group);
      }
      const rowOf = (tag: string): TagAggregate => {
        const group = groups.get(tag)!;
        const avgPriority = group.count === 0 ? undefined : group.sumPriority / group.count;
        return { tag, count: group.count, sumScore: group.sumScore, avgPriority };
      };
      const tags = [...groups.keys()].sort();
      let rows = tags.map(rowOf);
      let positions = new Map(tags.map((tag, i) => [tag, i]));
      const move = (item: MutableItem, sign: 1 | -1) => {
        let group = groups.get(item.tag);
        if (group === undefined) groups.set(item.tag, (group = { count: 0, sumScore: 0, sumPriority: 0 }));
        group.count += sign;
        group.sumScore += sign * item.score;
        group.sumPriority += sign * item.priority;
      };
      const metrics = await measureWrites(
        config,
        writes,
        (write) => {
          const item = items[write.doc]!;
          const before = item.tag;
          move(item, -1);
          applyW6(item, write);
          move(item, 1);
          if (!positions.has(item.tag) || groups.get(before)!.count === 0) {
            // The set of groups changed: rebuild every row.
            if (groups.get(before)!.count === 0) groups.delete(before);
            const all = [...groups.keys()].sort();
            rows = all.map(rowOf);
            positions = new Map(all.map((tag, i) => [tag, i]));
          } else {
            const next = rows.slice();
            next[positions.get(before)!] = rowOf(before);
            next[positions.get(item.tag)!] = rowOf(item.tag);
            // Like the live queries, call back only when a row reads differently.
            if (next.every((row, i) => sameAggregate(row, rows[i]!))) return;
            rows = next;
          }
          tracker.notify();
        },
        tracker,
        config.w6BudgetMs,
      );
      let finalChecksum = "-";
      if (metrics.isComplete === 1) {
        finalChecksum = w6Checksum(rows);
        if (w6Checksum(aggregateByTag(items)) !== finalChecksum)
          throw new Error("plain W6: the kept counters differ from a fresh scan.");
      }
      return { ...metrics, setupMs: 0, finalChecksum };
    })();

    // For information: re-running the scan after each write, on fresh documents.
    items = source.map((item) => ({ ...item }));
    const rerun = await (async () => {
      const tracker = new NotifyTracker();
      const metrics = await measureWrites(
        config,
        writes,
        (write) => {
          applyW6(items[write.doc]!, write);
          aggregateByTag(items);
          tracker.notify();
        },
        tracker,
        config.w6RerunBudgetMs,
        20,
      );
      return { ...metrics, finalChecksum: metrics.isComplete === 1 ? w6Checksum(aggregateByTag(items)) : "-" };
    })();

    return [
      {
        workload: "W6",
        peer: "plain",
        label: "plain JS (scan; live: incremental counters)",
        metrics: { docs: config.w6Docs, loadMs, ...oneShot, ...incremental },
      },
      {
        workload: "W6",
        peer: "plain",
        label: "plain JS (re-run scan per write)",
        isInfo: true,
        metrics: { docs: config.w6Docs, ...rerun },
      },
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

/** W3 and W3L: the re-check loop over the live queries of its shape (and, for information, with a Set per query). */
async function liveWrites(config: BenchConfig, workload: "W3" | "W3L"): Promise<ResultRow[]> {
  const { docCount, tagCount, queryCount } = w3Shape(config, workload);
  const writes = w3Writes(config.w3Writes, docCount, config.seed, tagCount);
  const queries = w3Queries(queryCount, tagCount);
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
    const docs: Todo[] = makeTodos(docCount, config.seed, tagCount);
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
  // a Set lookup per query and write, mostly cache misses, cost several times the predicates.
  const withSets = await (async () => {
    const docs = makeTodos(docCount, config.seed, tagCount).map(copy);
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
    { workload, peer: "plain", label: "plain JS (re-check loop)", metrics: lean },
    {
      workload,
      peer: "plain",
      label: "plain JS (re-check loop + Set per query)",
      isInfo: true,
      metrics: withSets,
    },
  ];
}
