import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createClock, hlcMillis } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import { checkLaw } from "../testing/law-seed.js";
import { createRng, type Rng } from "../testing/sql-oracle.js";
import { CREATED_AT_FIELD } from "../triples.js";
import { LiveQueryRegistry } from "./live-registry.js";
import { compileMaterializer } from "./materialize.js";
import { normalizeQuery } from "./normalize.js";
import type { NormalizedQuery } from "./normalized-query.js";
import { RelationWatch } from "./relation-watch.js";
import { runQuery } from "./run-query.js";

/**
 * Live queries whose relations keep their first related rows per parent, against fresh runs:
 * children moving between parents (to deleted, unknown and wrong-typed parents too), filter
 * flips, order changes with ties, deletes and creates of parents and children, several writes
 * per transaction and sometimes many children at once. After every transaction each live query
 * must show what a fresh run shows.
 */

const schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }), rank: t.number({ fallback: 0 }) },
    posts: {
      title: t.string({ fallback: "" }),
      published: t.boolean({ fallback: false }),
      score: t.number({ optional: true }),
      authorId: t.ref("users"),
      editorIds: t.refMany("users"),
    },
  },
});

const SCORES = [0, 1, 2, 3];
const TITLES = ["a", "b", "c"];

function normalize(collection: "users" | "posts", query: unknown): NormalizedQuery {
  const normalized = normalizeQuery(schema.collections[collection]!, query, schema.collections);
  if (normalized.error) throw normalized.error;
  return normalized.data;
}

function randomPosts(random: Rng): Record<string, unknown> {
  const posts: Record<string, unknown> = {
    fields: { id: true, ...(random.chance(0.7) && { title: true }), ...(random.chance(0.3) && { score: true }) },
    limit: random.pick([0, 1, 2, 3, 4]),
    via: random.chance(0.4) ? "editorIds" : "authorId",
  };
  if (random.chance(0.6)) posts.where = random.chance(0.8) ? { published: true } : { score: { greaterThan: 0 } };
  if (random.chance(0.8)) posts.orderBy = [random.pick(["score", "createdAt", "title"]), random.pick(["asc", "desc"])];
  return posts;
}

function randomQuery(random: Rng): NormalizedQuery {
  const query: Record<string, unknown> = {
    fields: { id: true, ...(random.chance(0.5) && { name: true }), posts: randomPosts(random) },
  };
  if (random.chance(0.3)) query.orderBy = ["rank", random.pick(["asc", "desc"])];
  if (random.chance(0.3)) query.limit = random.int(1, 4);
  const where: Record<string, unknown> = {};
  if (random.chance(0.2)) where.rank = { lessThan: 2 };
  if (random.chance(0.2)) where.name = "x";
  // Routed by ids, the query hears only posts that name one of them (users yet to be created too).
  if (random.chance(0.3))
    where.id = random.chance(0.5) ? `u${random.int(0, 7)}` : { in: [`u${random.int(0, 7)}`, "u1"] };
  query.where = where;
  return normalize("users", query);
}

function runScenario(seed: number): void {
  const random = createRng(seed);
  const store = new TripleStore();
  let wallMs = 1_700_000_000_000;
  const clock = createClock({ node: "test", wallClock: () => wallMs });
  const registry = new LiveQueryRegistry(store);
  const users: string[] = [];
  const posts: string[] = [];
  // Ids a post may name: users, users deleted or not created yet, and none at all.
  const userIds = () => [...users, "ghost", `u${users.length}`];
  const created = (collection: string, id: string) => {
    const hlc = clock.now();
    store.setField(collection, id, CREATED_AT_FIELD, hlcMillis(hlc), hlc);
  };
  const createUser = () => {
    const id = `u${users.length}`;
    users.push(id);
    created("users", id);
    store.setField("users", id, "rank", random.int(0, 3), clock.now());
    store.setField("users", id, "name", random.pick(["x", "y"]), clock.now());
  };
  const authorValue = () => {
    if (random.chance(0.05)) return null;
    if (random.chance(0.05)) return [random.pick(userIds())]; // wrong-typed: reads as no author
    return random.pick(userIds());
  };
  const editorsValue = () =>
    random.chance(0.1) ? null : [...new Set(Array.from({ length: random.int(0, 3) }, () => random.pick(userIds())))];
  const postFields: Record<string, () => unknown> = {
    authorId: authorValue,
    editorIds: editorsValue,
    published: () => (random.chance(0.1) ? null : random.chance(0.5)),
    score: () => (random.chance(0.1) ? null : random.pick(SCORES)),
    title: () => random.pick(TITLES),
  };
  const setPost = (id: string, field: string) => store.setField("posts", id, field, postFields[field]!(), clock.now());
  const createPost = () => {
    const id = `p${posts.length}`;
    posts.push(id);
    created("posts", id);
    for (const field of Object.keys(postFields)) setPost(id, field);
  };
  // Sometimes the queries start before any post exists: their parents have no kept rows then.
  const arePostsLater = random.chance(0.3);
  store.transact(() => {
    for (let i = 0; i < 6; i++) createUser();
    if (!arePostsLater) for (let i = 0; i < 120; i++) createPost();
  });
  const queries = Array.from({ length: 12 }, () => randomQuery(random));
  const lives = queries.map((query) => registry.acquire(query));
  const postFieldNames = Object.keys(postFields);
  for (let step = 0; step < 80; step++) {
    wallMs += random.int(0, 2);
    const writes: string[] = [];
    store.transact(() => {
      if (posts.length === 0) {
        for (let i = 0; i < 120; i++) createPost();
        writes.push("first posts");
        return;
      }
      if (step === 40) {
        // More rows than a commit folds one by one: every live query starts over.
        for (let i = 0; i < 520; i++) createPost();
        writes.push("bulk create");
        return;
      }
      if (random.chance(0.08)) {
        // One parent loses many of its children: its kept rows run short and are found again.
        const user = random.pick(users);
        const field = random.pick(["authorId", "published", "editorIds"]);
        const table = store.table("posts")!;
        for (const id of posts) {
          const row = table.rowOf(id);
          if (row === undefined || random.chance(0.2)) continue;
          const editors = table.get(row, "editorIds");
          if (table.get(row, "authorId") !== user && !(Array.isArray(editors) && editors.includes(user))) continue;
          if (field === "published") store.setField("posts", id, field, false, clock.now());
          else setPost(id, field);
        }
        writes.push(`${user} loses ${field}`);
        return;
      }
      if (random.chance(0.08)) {
        // Many children move at once: kept rows run short and are found again.
        const field = random.pick(["authorId", "published", "score"]);
        const value = postFields[field]!();
        for (let i = 0; i < 15; i++) store.setField("posts", random.pick(posts), field, value, clock.now());
        writes.push(`many ${field}=${JSON.stringify(value)}`);
        return;
      }
      const changes = random.int(1, 3);
      for (let i = 0; i < changes; i++) {
        const roll = random.int(0, 19);
        if (roll < 4) {
          const [collection, ids, create] =
            roll < 2 ? (["posts", posts, createPost] as const) : (["users", users, createUser] as const);
          const id = roll % 2 === 0 ? undefined : random.pick(ids);
          if (id === undefined) create();
          else store.delete(collection, id, clock.now());
          writes.push(id === undefined ? `create ${ids.at(-1)}` : `delete ${id}`);
        } else if (roll === 4) {
          const id = random.pick(users);
          const field = random.pick(["rank", "name"]);
          store.setField(
            "users",
            id,
            field,
            field === "rank" ? random.int(0, 3) : random.pick(["x", "y"]),
            clock.now(),
          );
          writes.push(`${id}.${field}`);
        } else {
          const id = random.pick(posts);
          const field = random.pick(postFieldNames);
          setPost(id, field);
          writes.push(`${id}.${field}`);
        }
      }
    });
    const table = store.table("users")!;
    queries.forEach((query, index) => {
      const materialize = compileMaterializer(query, store, { maxQueryCost: Infinity }).pass();
      const expected = runQuery(store, query).map((row) => materialize(table, row));
      const context = `seed ${seed}, step ${step} (${writes.join(", ")}), query ${JSON.stringify(query.where)} posts ${JSON.stringify(query.relations![0]!.query.where)} ${JSON.stringify(query.relations![0]!.query.orderBy)} limit ${query.relations![0]!.query.limit} via ${query.relations![0]!.link}`;
      expect(lives[index]!.result.value, context).toEqual(expected);
    });
  }
  registry.dispose();
}

describe("relation watches", () => {
  it("keep every live query with relations equal to a fresh run through random writes", () => {
    checkLaw(
      fc.property(fc.integer(), (seed) => runScenario(seed)),
      { numRuns: 12 },
    );
  });

  it("reach only the parents a child's link names before or after, and only when their shown rows change", () => {
    const store = new TripleStore();
    let ms = 1_700_000_000_000;
    const clock = createClock({ node: "test", wallClock: () => ms++ });
    const at = () => {
      const hlc = clock.now();
      return [hlc, hlcMillis(hlc)] as const;
    };
    store.transact(() => {
      for (const user of ["ann", "bob", "cy"]) store.setField("users", user, "name", user, clock.now());
      for (let i = 0; i < 6; i++) {
        const [hlc, millis] = at();
        store.setField("posts", `p${i}`, CREATED_AT_FIELD, millis, hlc);
        store.setField("posts", `p${i}`, "authorId", i < 4 ? "ann" : "bob", clock.now());
        store.setField("posts", `p${i}`, "published", true, clock.now());
      }
    });
    const query = normalize("users", {
      fields: {
        id: true,
        posts: {
          fields: { id: true, title: true },
          where: { published: true },
          orderBy: ["createdAt", "desc"],
          limit: 2,
          via: "authorId",
        },
      },
    });
    const watch = new RelationWatch(query.relations![0]!, store);
    const users = store.table("users")!;
    const shown = (user: string) => {
      const found = watch.rowsOf(users, users.rowOf(user)!);
      return found!.rows.map((row) => found!.table.idOf(row));
    };
    expect(shown("ann")).toEqual(["p3", "p2"]);
    expect(shown("bob")).toEqual(["p5", "p4"]);
    let altered: string[] = [];
    store.watch("posts");
    store.onCommit(({ tables }) => {
      for (const [table, rows] of tables)
        if (table.name === "posts")
          for (const [row, change] of rows) watch.apply(table, row, change, (id) => altered.push(id));
    });
    const write = (id: string, field: string, value: unknown) => {
      altered = [];
      store.setField("posts", id, field, value, clock.now());
      return altered;
    };
    expect(write("p0", "title", "hidden")).toEqual([]); // beyond ann's first two
    expect(write("p3", "title", "shown")).toEqual(["ann"]);
    expect(write("p1", "published", false)).toEqual([]); // leaves beyond the shown rows
    expect(write("p2", "published", false)).toEqual(["ann"]);
    expect(shown("ann")).toEqual(["p3", "p0"]);
    expect(write("p0", "authorId", "cy")).toEqual(["cy", "ann"]); // cy was never built: rebuilt
    expect(write("p4", "authorId", "nobody")).toEqual(["nobody", "bob"]);
    expect(shown("bob")).toEqual(["p5"]);
    expect(shown("ann")).toEqual(["p3"]);
  });

  it("route a query routed by ids through the link of its relation: it hears only posts naming those ids", () => {
    const store = new TripleStore();
    const clock = createClock({ node: "test", wallClock: () => 1_700_000_000_000 });
    const registry = new LiveQueryRegistry(store);
    store.transact(() => {
      for (const user of ["ann", "bob"]) store.setField("users", user, "name", user, clock.now());
      store.setField("posts", "p1", "authorId", "ann", clock.now());
      store.setField("posts", "p2", "authorId", "bob", clock.now());
    });
    const live = registry.acquire(
      normalize("users", {
        fields: { id: true, posts: { fields: { id: true, title: true }, limit: 5, via: "authorId" } },
        where: { id: "ann" },
      }),
    );
    let heard = 0;
    const apply = live.apply.bind(live);
    live.apply = (...args) => {
      heard++;
      apply(...args);
    };
    store.setField("posts", "p2", "title", "bob's", clock.now());
    expect(heard).toBe(0);
    store.setField("posts", "p2", "authorId", "ann", clock.now()); // moves to ann
    expect(heard).toBe(1);
    store.setField("posts", "p1", "authorId", "bob", clock.now()); // leaves ann
    expect(heard).toBe(2);
    store.setField("posts", "p1", "title", "bob's too", clock.now());
    expect(heard).toBe(2);
    expect(live.result.value).toEqual([{ id: "ann", posts: [{ id: "p2", title: "bob's" }] }]);
    registry.dispose();
  });

  it("are kept for top-level reverse relations showing a few rows, with filters on the child's own fields", () => {
    const relation = (posts: Record<string, unknown>) =>
      normalize("users", { fields: { posts: { fields: { id: true }, via: "authorId", ...posts } } }).relations![0]!;
    expect(RelationWatch.canWatch(relation({ limit: 10 }))).toBe(true);
    expect(RelationWatch.canWatch(relation({}))).toBe(false);
    expect(RelationWatch.canWatch(relation({ limit: 500 }))).toBe(false);
    expect(RelationWatch.canWatch(relation({ limit: 3, where: { updatedAt: { greaterThan: new Date(0) } } }))).toBe(
      false,
    );
    expect(RelationWatch.canWatch(relation({ limit: 3, where: { authorId: { where: { name: "ann" } } } }))).toBe(false);
    expect(RelationWatch.canWatch(relation({ limit: 3, orderBy: ["updatedAt", "desc"] }))).toBe(false);
    const forward = normalize("posts", { fields: { authorId: { fields: { id: true } } } }).relations![0]!;
    expect(RelationWatch.canWatch(forward)).toBe(false);
  });
});
