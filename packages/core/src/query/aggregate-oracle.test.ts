import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { type Hlc, TICKS_PER_MS } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import { lawSeed, reproduce } from "../testing/law-seed.js";
import { conditionSql, createRng, type Rng, type SqlField } from "../testing/sql-oracle.js";
import { CREATED_AT_FIELD, CREATED_BY_FIELD } from "../triples.js";
import { normalizeAggregateQuery, runAggregate } from "./aggregate.js";
import type { Operator } from "./normalized-query.js";

/**
 * Differential test of aggregations and groupBy against SQLite's GROUP BY (aggregates
 * match SQLite's on the same data, NULL for undefined: docs/queries.md). Random documents go into a TripleStore
 * as raw stored values (wrong types and removals included) and, as read, into an SQLite table;
 * random aggregate queries (with and without groupBy, where, orderBy over groups and aggregates,
 * limit) must return the same rows in the same order. The read rules are written out again here,
 * independently of the engine.
 */

const COLLECTION = "items";
const schema = createSchema({
  entities: {
    items: {
      tag: t.string({ optional: true }),
      kind: t.string({ fallback: "plain" }),
      label: t.string({ optional: true, fallback: "anon" }),
      score: t.number({ fallback: 0 }),
      rank: t.number({ optional: true }),
      active: t.boolean({ fallback: false }),
      flag: t.boolean({ optional: true }),
      due: t.date({ optional: true }),
      seen: t.date({ fallback: "now" }),
      ownerId: t.ref("items"),
      tagIds: t.refMany("tags"),
      meta: t.json({ optional: true }),
    },
    tags: { name: t.string({ fallback: "" }) },
  },
});
const itemsSpec = schema.collections.items!;

// ---- value pools: small, so groups hold many documents ----

// Characters below U+D800 only: UTF-8 byte order (SQLite) equals UTF-16 code-unit order (JS) on these.
const STRINGS = ["", "a", "A", "ab", "b", "é", "中", "Zz", "a b", "ж"];
const NUMBERS = [0, -0, 1, -1, 2, 2.5, -3.25, 0.1, 0.2, 0.3, 7, 42, 100, 1e12, -1e12, 1 / 3, 1e-7];
const DATES = [0, -86_400_000, 1_600_000_000_000, 1_650_000_000_000, 1_700_000_000_000, 1_700_000_000_001];
const CREATED_ATS = [1_500_000_000_000, 1_600_000_000_000, 1_650_000_000_000, 1_700_000_000_000];
const USERS = ["alice", "bob", "carol"];
const TAGS = ["t1", "t2", "t3", "t4"];

// ---- the model: stored values per document, and the read rules ----

interface ModelDoc {
  readonly id: string;
  readonly cells: Map<string, unknown>;
  readonly tags: Set<string>;
}

type Kind = "string" | "number" | "boolean" | "date" | "refMany" | "json";

interface ModelField {
  readonly name: string;
  readonly kind: Kind;
  read(doc: ModelDoc): unknown;
}

const stored = (doc: ModelDoc, field: string) => doc.cells.get(field);
const asString = (value: unknown) => (typeof value === "string" ? value : undefined);
const asNumber = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : undefined);
const asBoolean = (value: unknown) => (typeof value === "boolean" ? value : undefined);

const FIELDS: readonly ModelField[] = [
  { name: "id", kind: "string", read: (doc) => doc.id },
  { name: "tag", kind: "string", read: (doc) => asString(stored(doc, "tag")) },
  { name: "kind", kind: "string", read: (doc) => asString(stored(doc, "kind")) ?? "plain" },
  { name: "label", kind: "string", read: (doc) => asString(stored(doc, "label")) ?? "anon" },
  { name: "ownerId", kind: "string", read: (doc) => asString(stored(doc, "ownerId")) },
  { name: "createdBy", kind: "string", read: (doc) => asString(stored(doc, CREATED_BY_FIELD)) },
  { name: "score", kind: "number", read: (doc) => asNumber(stored(doc, "score")) ?? 0 },
  { name: "rank", kind: "number", read: (doc) => asNumber(stored(doc, "rank")) },
  { name: "active", kind: "boolean", read: (doc) => asBoolean(stored(doc, "active")) ?? false },
  { name: "flag", kind: "boolean", read: (doc) => asBoolean(stored(doc, "flag")) },
  { name: "due", kind: "date", read: (doc) => asNumber(stored(doc, "due")) },
  {
    name: "seen",
    kind: "date",
    read: (doc) => asNumber(stored(doc, "seen")) ?? asNumber(stored(doc, CREATED_AT_FIELD)),
  },
  { name: "createdAt", kind: "date", read: (doc) => asNumber(stored(doc, CREATED_AT_FIELD)) },
  { name: "tagIds", kind: "refMany", read: (doc) => [...doc.tags].sort() },
  { name: "meta", kind: "json", read: (doc) => stored(doc, "meta") ?? undefined },
];
const FIELD = new Map(FIELDS.map((field) => [field.name, field]));
const GROUPABLE = FIELDS.filter((field) => field.kind !== "refMany" && field.kind !== "json" && field.name !== "id");
const NUMERIC = FIELDS.filter((field) => field.kind === "number");
const EXTREMES = FIELDS.filter((field) => field.kind === "number" || field.kind === "string" || field.kind === "date");

// ---- the engine side: one TripleStore written with raw values, mirrored into the model ----

const BASE_MS = 1_700_000_000_000;

class World {
  readonly store = new TripleStore();
  readonly docs = new Map<string, ModelDoc>();
  private step = 0;
  private created = 0;

  /** A fresh document id (deleted ids stay deleted for good). */
  freshId(): string {
    return `d${this.created++}`;
  }

  /** Strictly increasing HLCs: the latest write always wins, so the model is "last write". */
  hlc(): Hlc {
    return { ticks: (BASE_MS + this.step++) * TICKS_PER_MS, node: "n1" };
  }

  write(id: string, field: string, value: unknown): void {
    this.store.setField(COLLECTION, id, field, value, this.hlc());
    this.docOf(id).cells.set(field, value);
  }

  writeTag(id: string, tag: string, present: boolean): void {
    this.store.setElement(COLLECTION, id, "tagIds", tag, present, this.hlc());
    if (present) this.docOf(id).tags.add(tag);
    else this.docOf(id).tags.delete(tag);
  }

  delete(id: string): void {
    this.store.delete(COLLECTION, id, this.hlc());
    this.docs.delete(id);
  }

  private docOf(id: string): ModelDoc {
    let doc = this.docs.get(id);
    if (doc === undefined) this.docs.set(id, (doc = { id, cells: new Map(), tags: new Set() }));
    return doc;
  }
}

/** A valid value, a wrong-typed one, a removal (null), or nothing (undefined: not written). */
function valueOf(rng: Rng, valid: () => unknown, wrong: readonly unknown[], missing: number): unknown {
  const roll = rng.next();
  if (roll < missing) return undefined;
  if (roll < missing + 0.05) return rng.pick(wrong);
  if (roll < missing + 0.08) return null;
  return valid();
}

const WRITERS: ReadonlyArray<readonly [string, (rng: Rng, world: World) => unknown]> = [
  [CREATED_AT_FIELD, (rng) => valueOf(rng, () => rng.pick(CREATED_ATS), ["2020", true], 0.08)],
  [CREATED_BY_FIELD, (rng) => valueOf(rng, () => rng.pick(USERS), [42], 0.3)],
  ["tag", (rng) => valueOf(rng, () => rng.pick(STRINGS.slice(0, 6)), [7, false], 0.25)],
  ["kind", (rng) => valueOf(rng, () => rng.pick(["x", "y", "z"]), [1], 0.3)],
  ["label", (rng) => valueOf(rng, () => rng.pick(STRINGS), [{ a: 1 }], 0.4)],
  ["score", (rng) => valueOf(rng, () => rng.pick(NUMBERS), ["12", Number.POSITIVE_INFINITY, Number.NaN, true], 0.15)],
  ["rank", (rng) => valueOf(rng, () => rng.pick(NUMBERS.slice(0, 8)), ["3"], 0.35)],
  ["active", (rng) => valueOf(rng, () => rng.chance(0.5), [1, "true"], 0.2)],
  ["flag", (rng) => valueOf(rng, () => rng.chance(0.5), [0], 0.4)],
  ["due", (rng) => valueOf(rng, () => rng.pick(DATES), ["2020-01-01"], 0.35)],
  ["seen", (rng) => valueOf(rng, () => rng.pick(DATES), ["now"], 0.5)],
  [
    "ownerId",
    (rng, world) =>
      valueOf(rng, () => (world.docs.size > 0 ? rng.pick([...world.docs.keys()].slice(0, 8)) : "x"), [5], 0.4),
  ],
  ["meta", (rng) => valueOf(rng, () => rng.pick<unknown>([{ a: 1 }, [1], "text", 0, false]), [], 0.5)],
];

function createDocument(world: World, rng: Rng, id: string): void {
  world.write(id, "kind", rng.pick(["x", "y", "z"])); // every document has a first write
  for (const [field, make] of WRITERS) {
    const value = make(rng, world);
    if (value !== undefined) world.write(id, field, value);
  }
  for (let n = rng.chance(0.4) ? 0 : rng.int(1, 3); n > 0; n--) world.writeTag(id, rng.pick(TAGS), true);
}

function mutate(world: World, rng: Rng, count: number): void {
  for (let i = 0; i < count; i++) {
    const ids = [...world.docs.keys()];
    const id = rng.pick(ids);
    const roll = rng.next();
    world.store.transact(() => {
      if (roll < 0.1) world.delete(id);
      else if (roll < 0.25) createDocument(world, rng, world.freshId());
      else if (roll < 0.35) {
        const tag = rng.pick(TAGS);
        world.writeTag(id, tag, !world.docs.get(id)!.tags.has(tag));
      } else {
        for (let n = rng.int(1, 3); n > 0; n--) {
          const [field, make] = rng.pick(WRITERS);
          const value = make(rng, world);
          world.write(id, field, value === undefined ? null : value);
        }
      }
    });
  }
}

// ---- the oracle ----

const COLUMNS = FIELDS.filter((field) => field.kind !== "refMany").map((field) => field.name);

function toSql(field: ModelField, value: unknown): unknown {
  if (value === undefined) return null;
  if (field.kind === "boolean") return value ? 1 : 0;
  if (field.kind === "json") return JSON.stringify(value);
  return value;
}

function createOracle() {
  const db = new Database(":memory:");
  // No declared column types: SQLite keeps every value exactly as inserted.
  db.exec(
    `CREATE TABLE items (${COLUMNS.map((name) => (name === "id" ? `"id" TEXT PRIMARY KEY` : `"${name}"`)).join(", ")})`,
  );
  db.exec(`CREATE TABLE item_tags (item TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (item, tag))`);
  const insert = db.prepare(`INSERT INTO items VALUES (${COLUMNS.map(() => "?").join(", ")})`);
  const insertTag = db.prepare(`INSERT INTO item_tags VALUES (?, ?)`);
  const reload = db.transaction((docs: readonly ModelDoc[]) => {
    db.exec("DELETE FROM items; DELETE FROM item_tags;");
    for (const doc of docs) {
      insert.run(COLUMNS.map((name) => toSql(FIELD.get(name)!, FIELD.get(name)!.read(doc))));
      for (const tag of doc.tags) insertTag.run(doc.id, tag);
    }
  });
  return { db, reload };
}

/** Whether an item has a tag passing `test` (SQL on `tag`, or "" for any tag). */
const hasTag = (test: string) => `EXISTS (SELECT 1 FROM item_tags WHERE item_tags.item = items.id${test})`;

/** How SQL reads a field: its column, or for the set field a membership subquery. */
function sqlField(field: ModelField): SqlField {
  return field.kind === "refMany"
    ? { column: "", set: { exists: hasTag, member: "tag" } }
    : { column: `"${field.name}"` };
}

// ---- random aggregate queries ----

type Fn = "count" | "sum" | "avg" | "min" | "max";

interface GeneratedQuery {
  readonly query: Record<string, unknown>;
  readonly sql: string;
  readonly params: unknown[];
  /** Per result key: how to compare it (group field kind, or aggregate function). */
  readonly columns: ReadonlyArray<{ readonly name: string; readonly sqlName: string; readonly kind: Kind | Fn }>;
}

const OPERATORS: Record<Kind, Operator[]> = {
  string: ["equals", "notEquals", "in", "notIn", "isDefined", "greaterThan", "lessThanOrEqual"],
  number: ["equals", "notEquals", "in", "isDefined", "greaterThan", "lessThanOrEqual"],
  date: ["equals", "isDefined", "greaterThan", "lessThanOrEqual"],
  boolean: ["equals", "notEquals", "isDefined"],
  refMany: ["equals", "notEquals", "isDefined"],
  json: ["isDefined"],
};
const FILTERABLE = FIELDS.filter((field) => field.name !== "id");

function createQueryGenerator(rng: Rng, coverage: Map<string, number>) {
  const cover = (key: string) => coverage.set(key, (coverage.get(key) ?? 0) + 1);
  const sample = (field: ModelField, docs: readonly ModelDoc[]): unknown => {
    if (field.kind === "refMany") return rng.pick(TAGS);
    if (field.kind === "boolean") return rng.chance(0.5);
    let value = docs.length > 0 && rng.chance(0.85) ? field.read(rng.pick(docs)) : undefined;
    if (value === undefined) {
      value =
        field.kind === "string" ? rng.pick(STRINGS) : field.kind === "number" ? rng.pick(NUMBERS) : rng.pick(DATES);
    }
    return field.kind === "date" ? new Date(value as number) : value;
  };

  return (docs: readonly ModelDoc[]): GeneratedQuery => {
    const params: unknown[] = [];
    const where: Record<string, unknown> = {};
    const clauses: string[] = [];
    for (let n = rng.pick([0, 0, 1, 1, 2]); n > 0; n--) {
      const field = rng.pick(FILTERABLE);
      if (Object.hasOwn(where, field.name)) continue;
      const op = rng.pick(OPERATORS[field.kind]);
      const operand =
        op === "isDefined"
          ? rng.chance(0.7)
          : op === "in" || op === "notIn"
            ? [sample(field, docs), sample(field, docs)]
            : sample(field, docs);
      where[field.name] = { [op]: operand };
      clauses.push(conditionSql(sqlField(field), op, operand, params));
      cover(`where ${field.kind} ${op}`);
    }

    const groupBy: ModelField[] = [];
    for (let n = rng.pick([0, 0, 1, 1, 1, 2, 2, 3]); n > 0; n--) {
      const field = rng.pick(GROUPABLE);
      if (!groupBy.includes(field)) groupBy.push(field);
    }
    cover(`groupBy ${groupBy.length}`);
    for (const field of groupBy) cover(`groupBy ${field.kind}`);

    const aggregations: Record<string, unknown> = {};
    const columns: Array<{ name: string; sqlName: string; kind: Kind | Fn }> = groupBy.map((field) => ({
      name: field.name,
      sqlName: field.name,
      kind: field.kind,
    }));
    const selects = groupBy.map((field) => `"${field.name}"`);
    const aggregateCount = groupBy.length > 0 && rng.chance(0.1) ? 0 : rng.int(1, 4);
    for (let i = 0; i < aggregateCount; i++) {
      const fn = rng.pick<Fn>(["count", "count", "sum", "avg", "min", "max"]);
      const field =
        fn === "count"
          ? rng.chance(0.3)
            ? undefined
            : rng.pick(FIELDS)
          : fn === "sum" || fn === "avg"
            ? rng.pick(NUMERIC)
            : rng.pick(EXTREMES);
      // Names may shadow fields that are not grouped: results key them, SQL uses its own aliases.
      let name = rng.chance(0.2) ? rng.pick(FIELDS).name : `${fn}${i}`;
      if (Object.hasOwn(aggregations, name) || groupBy.some((group) => group.name === name)) name = `${fn}${i}`;
      if (Object.hasOwn(aggregations, name)) continue;
      aggregations[name] = { [fn]: field?.name ?? "*" };
      const sqlName = `agg${i}`;
      const column = field === undefined ? "*" : `"${field.name}"`;
      const expression =
        fn === "count"
          ? field?.kind === "refMany"
            ? `COUNT(CASE WHEN ${hasTag("")} THEN 1 END)`
            : `COUNT(${column})`
          : fn === "sum"
            ? `COALESCE(SUM(${column}), 0)`
            : `${fn.toUpperCase()}(${column})`;
      selects.push(`${expression} AS "${sqlName}"`);
      columns.push({ name, sqlName, kind: fn === "min" || fn === "max" ? field!.kind : fn });
      cover(`${fn} ${field?.kind ?? "*"}`);
    }

    const orderBy: Array<[string, "asc" | "desc"]> = [];
    const sqlOrder: string[] = [];
    for (let n = rng.pick([0, 1, 1, 2]); n > 0; n--) {
      const column = rng.pick(columns.length > 0 ? columns : [undefined]);
      if (column === undefined || orderBy.some(([name]) => name === column.name)) continue;
      const direction = rng.chance(0.5) ? "asc" : "desc";
      orderBy.push([column.name, direction]);
      sqlOrder.push(`"${column.sqlName}" ${direction.toUpperCase()}`);
      cover(`orderBy ${groupBy.some((field) => field.name === column.name) ? "group field" : "aggregate"}`);
    }
    // Ties are broken by the group key ascending.
    for (const field of groupBy) sqlOrder.push(`"${field.name}" ASC`);
    const limit = rng.chance(0.6) ? undefined : rng.pick([0, 1, 2, 3, 5, 10]);

    const query: Record<string, unknown> = {};
    if (aggregateCount > 0 || rng.chance(0.5)) query.aggregations = aggregations;
    if (groupBy.length > 0) query.groupBy = groupBy.map((field) => field.name);
    if (clauses.length > 0) query.where = where;
    if (orderBy.length === 1 && rng.chance(0.5)) query.orderBy = orderBy[0];
    else if (orderBy.length > 0) query.orderBy = orderBy;
    if (limit !== undefined) query.limit = limit;
    if (query.aggregations === undefined && query.groupBy === undefined) query.aggregations = aggregations;

    let sql = `SELECT ${selects.join(", ")} FROM items`;
    if (clauses.length > 0) sql += ` WHERE ${clauses.join(" AND ")}`;
    if (groupBy.length > 0) sql += ` GROUP BY ${groupBy.map((field) => `"${field.name}"`).join(", ")}`;
    if (sqlOrder.length > 0) sql += ` ORDER BY ${sqlOrder.join(", ")}`;
    if (limit !== undefined) {
      sql += " LIMIT ?";
      params.push(limit);
    }
    if (limit !== undefined) cover("limit");
    return { query, sql, params, columns };
  };
}

// ---- comparison ----

/** A value as SQLite holds it: Dates as ms, booleans as 0/1, undefined as null, -0 as 0. */
function asSql(kind: Kind | Fn, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.getTime();
  if (kind === "boolean" || typeof value === "boolean") return value ? 1 : 0;
  return value === 0 ? 0 : value;
}

/** Sums and averages are floating point: SQLite's compensated sum and the engine's exact one may differ in the last bits. */
function sameValue(kind: Kind | Fn, engine: unknown, sqlite: unknown): boolean {
  if (engine === sqlite) return true;
  if ((kind === "sum" || kind === "avg") && typeof engine === "number" && typeof sqlite === "number") {
    return Math.abs(engine - sqlite) <= 1e-12 * Math.max(1, Math.abs(engine), Math.abs(sqlite));
  }
  return false;
}

function describeQuery(query: unknown): string {
  return JSON.stringify(query, function (this: Record<string, unknown>, key, value) {
    const raw = this[key];
    return raw instanceof Date ? `Date(${raw.getTime()})` : value;
  });
}

function runPhase(
  label: string,
  world: World,
  oracle: ReturnType<typeof createOracle>,
  nextQuery: ReturnType<typeof createQueryGenerator>,
  count: number,
  failures: string[],
): { multiRow: number } {
  const docs = [...world.docs.values()];
  oracle.reload(docs);
  expect(world.store.table(COLLECTION)!.liveCount, `${label}: live documents`).toBe(docs.length);
  let multiRow = 0;
  for (let i = 0; i < count; i++) {
    const { query, sql, params, columns } = nextQuery(docs);
    const normalized = normalizeAggregateQuery(itemsSpec, query);
    if (normalized.error) {
      failures.push(`${label} query #${i} was rejected: ${normalized.error.message}\n  query: ${describeQuery(query)}`);
      continue;
    }
    const engine = runAggregate(world.store, normalized.data).map((row) =>
      columns.map(({ name, kind }) => asSql(kind, row[name])),
    );
    const sqlite = (
      oracle.db
        .prepare(sql)
        .raw()
        .all(...(params as never[])) as unknown[][]
    ).map((row) => row.map((value, at) => asSql(columns[at]!.kind, value)));
    if (sqlite.length > 1) multiRow++;
    const same =
      engine.length === sqlite.length &&
      engine.every((row, at) =>
        row.every((value, column) => sameValue(columns[column]!.kind, value, sqlite[at]![column])),
      );
    if (!same) {
      failures.push(
        `${label} query #${i}: ${describeQuery(query)}\n  sql: ${sql}\n  params: ${JSON.stringify(params)}\n` +
          `  columns: ${JSON.stringify(columns.map(({ name }) => name))}\n` +
          `  sqlite (${sqlite.length}): ${JSON.stringify(sqlite.slice(0, 10))}\n` +
          `  engine (${engine.length}): ${JSON.stringify(engine.slice(0, 10))}`,
      );
    }
  }
  return { multiRow };
}

describe("aggregations against SQLite GROUP BY", () => {
  const oracle = createOracle();
  afterAll(() => oracle.db.close());

  it("returns the same rows in the same order as SQLite for random aggregate queries over random data", () => {
    const seed = lawSeed();
    const rng = createRng(seed);
    const world = new World();
    const coverage = new Map<string, number>();
    const nextQuery = createQueryGenerator(rng, coverage);
    const failures: string[] = [];

    world.store.transact(() => {
      for (let i = 0; i < 1500; i++) createDocument(world, rng, world.freshId());
    });
    const stats = [runPhase("phase 1 (initial load)", world, oracle, nextQuery, 150, failures)];
    mutate(world, rng, 500);
    stats.push(runPhase("phase 2 (after updates and deletes)", world, oracle, nextQuery, 100, failures));
    mutate(world, rng, 500);
    stats.push(runPhase("phase 3 (after more changes)", world, oracle, nextQuery, 100, failures));

    if (failures.length > 0) {
      expect.fail(
        `${reproduce(seed)}\n${failures.length} of 350 aggregate queries differ from SQLite; the first ones:\n\n${failures.slice(0, 5).join("\n\n")}`,
      );
    }
    // Enough queries return several rows for the order to matter, and every shape came up.
    expect(
      stats.reduce((sum, each) => sum + each.multiRow, 0),
      `${reproduce(seed)}: multi-row results`,
    ).toBeGreaterThan(100);
    const expected = [
      ...["groupBy 0", "groupBy 1", "groupBy 2", "groupBy 3"],
      ...["string", "number", "boolean", "date"].map((kind) => `groupBy ${kind}`),
      ...["*", "string", "number", "boolean", "date", "refMany", "json"].map((kind) => `count ${kind}`),
      ...["sum number", "avg number", "min number", "min string", "min date", "max number", "max string", "max date"],
      ...["orderBy group field", "orderBy aggregate", "limit", "where refMany equals", "where string in"],
    ];
    const missing = expected.filter((key) => (coverage.get(key) ?? 0) === 0);
    expect(missing, `${reproduce(seed)}: query shapes never generated`).toEqual([]);
  });
});
