import { describe, expect, it } from "vitest";
import { createClock } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import { normalizeAggregateQuery } from "./aggregate.js";
import { acquireLiveAggregate } from "./live-aggregate.js";
import { LiveQueryRegistry } from "./live-registry.js";
import { compileMaterializer } from "./materialize.js";
import { normalizeQuery } from "./normalize.js";
import { QueryCostError } from "./query-cost.js";
import { collectionsOf, type RelatedFilter } from "./normalized-query.js";
import { runQuery } from "./run-query.js";
import type { Source } from "./source.js";

const schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }) },
    projects: {
      name: t.string({ fallback: "" }),
      memberIds: t.refMany("users"),
      archived: t.boolean({ fallback: false }),
    },
    tasks: {
      title: t.string({ fallback: "" }),
      projectId: t.ref("projects"),
      reviewerId: t.ref("users"),
      assigneeId: t.ref("users"),
    },
  },
});
const { collections } = schema;

function setup() {
  const store = new TripleStore();
  const clock = createClock({ node: "test", wallClock: () => 1_700_000_000_000 });
  const registry = new LiveQueryRegistry(store);
  const set = (collection: string, id: string, fields: Record<string, unknown>) =>
    store.transact(() => {
      for (const [field, value] of Object.entries(fields)) store.setField(collection, id, field, value, clock.now());
    });
  const member = (project: string, user: string, present: boolean) =>
    store.setElement("projects", project, "memberIds", user, present, clock.now());
  const normalize = (collection: string, query: unknown) => {
    const normalized = normalizeQuery(collections[collection]!, query, collections);
    if (normalized.error) throw new Error(normalized.error.message);
    return normalized.data;
  };
  const ids = (collection: string, query: unknown) => {
    const normalized = normalize(collection, { ...(query as object), fields: { id: true }, orderBy: ["id", "asc"] });
    const table = store.table(collection)!;
    const materialize = compileMaterializer(normalized, store);
    return runQuery(store, normalized).map((row) => materialize(table, row).id);
  };
  const live = (collection: string, query: unknown) => {
    const view = registry.acquire(
      normalize(collection, { ...(query as object), fields: { id: true }, orderBy: ["id", "asc"] }),
    );
    return () => view.result.value.map((doc) => doc.id);
  };
  return { store, set, member, normalize, ids, live, registry, clock };
}

describe("relational filters", () => {
  it("normalizes forward and reverse filters as relations resolve, and refuses mistakes with the path", () => {
    const forward = normalizeQuery(
      collections.tasks!,
      { where: { projectId: { where: { memberIds: "u1" } } } },
      collections,
    );
    expect(forward.data?.where).toEqual([
      {
        related: {
          direction: "forward",
          link: "projectId",
          linkSpec: collections.tasks!.fields.projectId!,
          collection: "projects",
          where: [{ field: "memberIds", op: "equals", operand: "u1" }],
          specs: { memberIds: collections.projects!.fields.memberIds! },
        } satisfies RelatedFilter,
      },
    ]);
    const reverse = normalizeQuery(
      collections.users!,
      { where: { tasks: { where: {}, via: "reviewerId" } } },
      collections,
    );
    expect(reverse.data?.where).toEqual([
      {
        related: {
          direction: "reverse",
          link: "reviewerId",
          linkSpec: collections.tasks!.fields.reviewerId,
          collection: "tasks",
          where: [],
          specs: {},
        },
      },
    ]);
    expect(collectionsOf(reverse.data!)).toEqual(new Set(["users", "tasks"]));

    const error = (collection: string, where: unknown) =>
      normalizeQuery(collections[collection]!, { where }, collections).error?.message;
    expect(error("users", { tasks: { where: {} } })).toMatch(
      /several fields of tasks refer to users \(reviewerId, assigneeId\); name one with via/,
    );
    expect(error("tasks", { title: { where: {} } })).toMatch(/where\.title is a string field/);
    expect(error("tasks", { projectId: { where: { nope: 1 } } })).toMatch(
      /where\.projectId\.where\.nope is not a field of projects/,
    );
    expect(error("tasks", { projectId: { where: {}, limit: 1 } })).toMatch(/takes where \(and via\), got "limit"/);
    expect(error("tasks", { projectId: { where: {}, via: "x" } })).toMatch(/via only applies to reverse relations/);
    expect(normalizeQuery(collections.tasks!, { where: { projectId: { where: {} } } }).error?.message).toMatch(
      /need the schema's collections/,
    );
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 9; i++)
      deep = { projectId: { where: { memberIds: { where: { tasks: { where: deep, via: "reviewerId" } } } } } };
    expect(error("tasks", deep)).toMatch(/nest at most 8 deep/);
  });

  it("answers forward, refMany, reverse, negated and nested filters", () => {
    const { set, member, ids } = setup();
    set("users", "u1", { name: "ann" });
    set("users", "u2", { name: "bob" });
    set("projects", "p1", { name: "one" });
    set("projects", "p2", { name: "two", archived: true });
    member("p1", "u1", true);
    member("p2", "u2", true);
    set("tasks", "t1", { projectId: "p1", reviewerId: "u2" });
    set("tasks", "t2", { projectId: "p2", reviewerId: "u1" });
    set("tasks", "t3", { projectId: "gone" });

    expect(ids("tasks", { where: { projectId: { where: { memberIds: "u1" } } } })).toEqual(["t1"]);
    expect(ids("tasks", { where: { projectId: { where: {} } } })).toEqual(["t1", "t2"]);
    expect(ids("tasks", { where: { not: { projectId: { where: { archived: true } } } } })).toEqual(["t1", "t3"]);
    expect(ids("projects", { where: { memberIds: { where: { name: "bob" } } } })).toEqual(["p2"]);
    expect(
      ids("users", { where: { tasks: { where: { projectId: { where: { archived: true } } }, via: "reviewerId" } } }),
    ).toEqual(["u1"]);
    expect(ids("users", { where: { or: [{ name: "bob" }, { tasks: { where: {}, via: "reviewerId" } }] } })).toEqual([
      "u1",
      "u2",
    ]);
  });

  it("keeps live queries and aggregates up to date when the documents a filter reaches change", () => {
    const { set, member, live, registry, store, normalize } = setup();
    set("projects", "p1", { name: "one" });
    set("projects", "p2", { name: "two" });
    set("tasks", "t1", { projectId: "p1" });
    set("tasks", "t2", { projectId: "p2" });
    const mine = live("tasks", { where: { projectId: { where: { memberIds: "u1" } } } });
    const withMembers = live("projects", { where: { memberIds: { where: {} } } });
    const reviewed = live("users", {
      where: { tasks: { where: { projectId: { where: { archived: true } } }, via: "reviewerId" } },
    });
    const aggregate = normalizeAggregateQuery(
      collections.tasks!,
      { aggregations: { n: { count: "*" } }, where: { projectId: { where: { memberIds: "u1" } } } },
      collections,
    );
    const count = acquireLiveAggregate(registry, store, aggregate.data!);
    expect(mine()).toEqual([]);

    member("p1", "u1", true);
    expect(mine()).toEqual(["t1"]);
    expect(count.result.value[0]?.n).toBe(1);
    expect(withMembers()).toEqual([]); // no user document exists yet
    set("users", "u1", { name: "ann" });
    expect(withMembers()).toEqual(["p1"]);

    set("tasks", "t2", { projectId: "p1" }); // moved into a project u1 is in
    expect(mine()).toEqual(["t1", "t2"]);
    member("p1", "u1", false);
    expect(mine()).toEqual([]);
    expect(count.result.value[0]?.n).toBe(0);

    set("users", "u1", { name: "ann" });
    set("tasks", "t1", { reviewerId: "u1" });
    expect(reviewed()).toEqual([]);
    set("projects", "p1", { archived: true }); // two steps away from users
    expect(reviewed()).toEqual(["u1"]);
    store.delete("projects", "p1", createClock({ node: "z", wallClock: () => 1_800_000_000_000 }).now());
    expect(reviewed()).toEqual([]);
    expect(
      registry.liveQuery(
        normalize("tasks", {
          where: { projectId: { where: { memberIds: "u1" } } },
          fields: { id: true },
          orderBy: ["id", "asc"],
        }),
      ),
    ).toBeDefined();
  });

  it("decides a filter nested in another once per document it reaches, not once per path", () => {
    const { set, normalize, store } = setup();
    // 200 tasks in one project: tasks → project → its tasks → project → … would be 200^n visits.
    set("projects", "p", { name: "big" });
    for (let i = 0; i < 200; i++) set("tasks", `t${i}`, { projectId: "p", title: i === 199 ? "last" : "" });
    let inner: Record<string, unknown> = { title: "last" };
    for (let i = 0; i < 3; i++) inner = { projectId: { where: { tasks: { where: inner, via: "projectId" } } } };
    const query = normalize("tasks", { where: inner });
    let reads = 0;
    const wrapped = new Map<string, ReturnType<Source["table"]>>();
    const counting: Source = {
      get version() {
        return store.version;
      },
      table: (collection) => {
        const table = store.table(collection)!;
        if (wrapped.has(collection)) return wrapped.get(collection);
        wrapped.set(collection, {
          name: table.name,
          liveCount: table.liveCount,
          liveRows: () => table.liveRows(),
          rowOf: (id) => table.rowOf(id),
          isLive: (row) => table.isLive(row),
          idOf: (row) => table.idOf(row),
          updatedTicksOf: (row) => table.updatedTicksOf(row),
          equalityIndex: (field) => table.equalityIndex(field),
          get: (row, field) => {
            reads++;
            return table.get(row, field);
          },
        });
        return wrapped.get(collection);
      },
    };
    expect(runQuery(counting, query)).toHaveLength(200);
    // Each level reads each task's link and title a bounded number of times: linear, not 200^3.
    expect(reads).toBeLessThan(200 * 20);
  });
});

describe("the cost of relational filters", () => {
  const graph = createSchema({ entities: { nodes: { name: t.string({ fallback: "" }), links: t.refMany("nodes") } } });
  /** `count` nodes, each linking every one of them. */
  function linkedNodes(count: number) {
    const store = new TripleStore();
    const clock = createClock({ node: "test", wallClock: () => 1_700_000_000_000 });
    store.transact(() => {
      for (let i = 0; i < count; i++) {
        store.setField("nodes", `n${i}`, "name", `n${i}`, clock.now());
        for (let j = 0; j < count; j++) store.setElement("nodes", `n${i}`, "links", `n${j}`, true, clock.now());
      }
    });
    return { store, clock };
  }
  /** Documents linking documents linking … `depth` times, down to one named `name`. */
  const nested = (depth: number, name: string) => {
    let where: Record<string, unknown> = { name };
    for (let level = 0; level < depth; level++) where = { links: { where } };
    const normalized = normalizeQuery(graph.collections.nodes!, { where }, graph.collections);
    if (normalized.error) throw normalized.error;
    return normalized.data;
  };

  it("charges the links a filter follows to the query's limit, and refuses a query over it", () => {
    const { store } = linkedNodes(60);
    // No node is named "none": every level examines every link of every node, 60 × 60 per level.
    expect(runQuery(store, nested(3, "none"), { maxQueryCost: 3 * 3_600 })).toEqual([]);
    let refused: unknown;
    try {
      runQuery(store, nested(4, "none"), { maxQueryCost: 3 * 3_600 });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(QueryCostError);
    expect((refused as QueryCostError).details).toEqual({
      collection: "nodes",
      relation: "where: links",
      limit: 10_800,
    });
    expect((refused as QueryCostError).message).toMatch(/relational filters.*filter through fewer links/);
    // A registry refuses it the same way, from its own limit.
    expect(() => new LiveQueryRegistry(store, { maxQueryCost: 10_800 }).acquire(nested(4, "none"))).toThrow(
      QueryCostError,
    );
    // Answers already decided are free: the nested filters of one pass are decided once per node.
    expect(runQuery(store, nested(3, "n1"), { maxQueryCost: 3 * 3_600 })).toHaveLength(60);
  });

  it("fails a live query that a commit makes too costly to keep, keeping its last result, until the data is cheap again", () => {
    const { store, clock } = linkedNodes(40);
    const registry = new LiveQueryRegistry(store, { maxQueryCost: 3_000 });
    // Two levels over 40 × 40 links, each stopping at its first match: far under the limit.
    const live = registry.acquire(nested(2, "n1"));
    expect(live.result.value).toHaveLength(40);
    expect(live.failure.value).toBeUndefined();
    // Renaming the only match makes every level examine every link again (40 + 40 × 40 + 39 × 40),
    // and finding the rows to decide again walks 40 + 40 × 40 links back: past the limit.
    store.setField("nodes", "n1", "name", "renamed", clock.now());
    expect(live.failure.value).toBeInstanceOf(QueryCostError);
    expect(live.failure.value?.details.relation).toMatch(/^(where: )?links$/);
    expect(live.result.value).toHaveLength(40);
    // With fewer links it fits again: the query is decided from scratch and follows the data.
    store.transact(() => {
      for (let i = 0; i < 40; i++)
        for (let j = 10; j < 40; j++) store.setElement("nodes", `n${i}`, "links", `n${j}`, false, clock.now());
    });
    store.setField("nodes", "n5", "name", "n1", clock.now());
    expect(live.failure.value).toBeUndefined();
    expect(live.result.value.map((doc) => doc.id).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `n${i}`).sort());
  });
});
