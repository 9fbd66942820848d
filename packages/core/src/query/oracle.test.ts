import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { encodeHlc, type Hlc, TICKS_PER_MS } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import { lawSeed, reproduce } from "../testing/law-seed.js";
import { conditionSql, createRng, type Rng } from "../testing/sql-oracle.js";
import { CREATED_AT_FIELD, CREATED_BY_FIELD, DELETED_FIELD } from "../triples.js";
import { compileMaterializer } from "./materialize.js";
import { normalizeQuery } from "./normalize.js";
import type { Operator } from "./normalized-query.js";
import { runQuery } from "./run-query.js";

/**
 * Differential test of the query engine against SQLite (the query rules match SQLite's on
 * the same data, NULL for undefined: docs/queries.md). One random data set goes into a TripleStore as raw
 * triples (wrong-typed values included) and, as read (fallbacks applied, NULL for undefined),
 * into an SQLite table. Random queries must return the same ids in the same order from both.
 * The read rules below are written out again here, independently of schema/read.ts.
 */

const SINCE_FALLBACK_MS = 1_600_000_000_000;
const COLLECTION = "items";

const schema = createSchema({
  entities: {
    items: {
      title: t.string({ fallback: "untitled" }), // required, with fallback
      label: t.string({ optional: true }), // optional, no fallback
      nick: t.string({ optional: true, fallback: "anon" }), // optional with fallback
      score: t.number({ fallback: 0 }),
      rank: t.number({ optional: true }),
      active: t.boolean({ fallback: false }),
      flag: t.boolean({ optional: true }),
      due: t.date({ optional: true }),
      since: t.date({ fallback: new Date(SINCE_FALLBACK_MS) }),
      seen: t.date({ fallback: "now" }), // reads as createdAt when missing
      ownerId: t.ref("items"),
      tagIds: t.refMany("tags"),
      meta: t.json({ optional: true }),
    },
    tags: { name: t.string({ fallback: "" }) },
  },
});
const itemsSpec = schema.collections.items!;

// ---- value pools (duplicates on purpose) ----

// ASCII plus Latin-1 and BMP characters below U+D800: UTF-8 byte order (SQLite) equals UTF-16
// code-unit order (JavaScript) on these.
const ALPHABET = [
  ..."aabbcAZz09 _-%'~",
  ..."éßüÿ",
  "\u0100",
  "ž",
  "Ω",
  "ж",
  "\u07ff",
  "\u0800",
  "€",
  "中",
  "ア",
  "\ud7ff",
];

function poolOf<T>(rng: Rng, size: number, make: () => T): T[] {
  return Array.from({ length: size }, make);
}

function randomString(rng: Rng, maxLength: number): string {
  let text = "";
  for (let i = rng.int(0, maxLength); i > 0; i--) text += rng.pick(ALPHABET);
  return text;
}

interface Pools {
  readonly strings: string[];
  readonly numbers: number[];
  readonly dates: number[];
  readonly createdAts: number[];
  readonly users: string[];
  readonly tagIds: string[];
}

function createPools(rng: Rng): Pools {
  const strings = [
    ...new Set(["", "a", "A", "ab", "abc", "b", "é", "中", ...poolOf(rng, 70, () => randomString(rng, 6))]),
  ];
  const numbers = [
    0,
    -0,
    1,
    -1,
    2.5,
    -2.5,
    0.1 + 0.2,
    1e12,
    -1e12,
    ...poolOf(rng, 40, () => rng.int(-1000, 1000)),
    ...poolOf(rng, 10, () => rng.int(-100_000, 100_000) / 8),
  ];
  const dates = [
    SINCE_FALLBACK_MS,
    0,
    -86_400_000,
    ...poolOf(rng, 40, () => rng.int(-100_000_000_000, 2_000_000_000_000)),
  ];
  const createdAts = poolOf(rng, 30, () => rng.int(1_500_000_000_000, 1_700_000_000_000));
  const tagIds = [...poolOf(rng, 24, () => `tag${rng.int(0, 999)}`), "t", "T"];
  return {
    strings,
    numbers,
    dates,
    createdAts,
    users: ["alice", "bob", "carol", "dave"],
    tagIds: [...new Set(tagIds)],
  };
}

// ---- the model: raw stored cells per document, and the read rules ----

interface Cell {
  readonly value: unknown;
  readonly ticks: number;
  readonly node: string;
}

interface ModelDoc {
  readonly id: string;
  readonly cells: Map<string, Cell>;
  readonly elements: Map<string, Cell>;
  maxTicks: number;
  isDeleted: boolean;
}

type Kind = "string" | "number" | "boolean" | "date" | "refMany" | "json";

interface QueryField {
  readonly name: string;
  readonly kind: Kind;
  /** The value as read, in comparable form (dates as ms, sets as sorted ids), undefined if none. */
  read(doc: ModelDoc): unknown;
}

const stored = (doc: ModelDoc, field: string) => doc.cells.get(field)?.value;
const asString = (value: unknown) => (typeof value === "string" ? value : undefined);
const asNumber = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : undefined);
const asBoolean = (value: unknown) => (typeof value === "boolean" ? value : undefined);

const FIELDS: readonly QueryField[] = [
  { name: "id", kind: "string", read: (doc) => doc.id },
  { name: "title", kind: "string", read: (doc) => asString(stored(doc, "title")) ?? "untitled" },
  { name: "label", kind: "string", read: (doc) => asString(stored(doc, "label")) },
  { name: "nick", kind: "string", read: (doc) => asString(stored(doc, "nick")) ?? "anon" },
  { name: "ownerId", kind: "string", read: (doc) => asString(stored(doc, "ownerId")) },
  { name: "createdBy", kind: "string", read: (doc) => asString(stored(doc, CREATED_BY_FIELD)) },
  { name: "score", kind: "number", read: (doc) => asNumber(stored(doc, "score")) ?? 0 },
  { name: "rank", kind: "number", read: (doc) => asNumber(stored(doc, "rank")) },
  { name: "active", kind: "boolean", read: (doc) => asBoolean(stored(doc, "active")) ?? false },
  { name: "flag", kind: "boolean", read: (doc) => asBoolean(stored(doc, "flag")) },
  { name: "due", kind: "date", read: (doc) => asNumber(stored(doc, "due")) },
  { name: "since", kind: "date", read: (doc) => asNumber(stored(doc, "since")) ?? SINCE_FALLBACK_MS },
  {
    name: "seen",
    kind: "date",
    read: (doc) => asNumber(stored(doc, "seen")) ?? asNumber(stored(doc, CREATED_AT_FIELD)),
  },
  { name: "createdAt", kind: "date", read: (doc) => asNumber(stored(doc, CREATED_AT_FIELD)) },
  { name: "updatedAt", kind: "date", read: (doc) => Math.floor(doc.maxTicks / TICKS_PER_MS) },
  {
    name: "tagIds",
    kind: "refMany",
    // A plain (non-set) value stored in a set field has the wrong type: the set reads as empty.
    read: (doc) =>
      stored(doc, "tagIds") !== undefined && stored(doc, "tagIds") !== null
        ? []
        : [...doc.elements]
            .filter(([, cell]) => cell.value === true)
            .map(([tag]) => tag)
            .sort(),
  },
  { name: "meta", kind: "json", read: (doc) => stored(doc, "meta") ?? undefined },
];
const FIELD = new Map(FIELDS.map((field) => [field.name, field]));
const SORTABLE = FIELDS.filter((field) => field.kind !== "refMany" && field.kind !== "json");
// `id` and `tagIds` have planner paths of their own (id lookups, set-member indexes): filter on them more often.
const FILTERABLE = [...FIELDS, FIELD.get("id")!, FIELD.get("id")!, FIELD.get("tagIds")!];

/** Later (ticks, node) wins a cell; no test write repeats an HLC on one cell. */
function wins(ticks: number, node: string, current: Cell | undefined): boolean {
  return current === undefined || ticks > current.ticks || (ticks === current.ticks && node > current.node);
}

// ---- the engine side: one TripleStore fed with raw triples, mirrored into the model ----

class World {
  readonly store = new TripleStore();
  readonly docs = new Map<string, ModelDoc>();

  constructor(private readonly rng: Rng) {}

  /** Writes one plain cell, alternately through setField and applyTriple (the sync path). */
  write(id: string, field: string, value: unknown, hlc: Hlc): void {
    const doc = this.docOf(id);
    if (this.rng.chance(0.5) || !isJsonable(value)) this.store.setField(COLLECTION, id, field, value, hlc);
    else
      expect(
        this.store.applyTriple({ collection: COLLECTION, id, field, value, hlc: encodeHlc(hlc) }).error,
      ).toBeUndefined();
    if (doc.isDeleted || !wins(hlc.ticks, hlc.node, doc.cells.get(field))) return;
    doc.cells.set(field, { value, ticks: hlc.ticks, node: hlc.node });
    doc.maxTicks = Math.max(doc.maxTicks, hlc.ticks);
  }

  writeElement(id: string, tag: string, present: boolean, hlc: Hlc): void {
    const doc = this.docOf(id);
    if (this.rng.chance(0.5)) this.store.setElement(COLLECTION, id, "tagIds", tag, present, hlc);
    else {
      const triple = { collection: COLLECTION, id, field: "tagIds", element: tag, value: present, hlc: encodeHlc(hlc) };
      expect(this.store.applyTriple(triple).error).toBeUndefined();
    }
    if (doc.isDeleted || !wins(hlc.ticks, hlc.node, doc.elements.get(tag))) return;
    doc.elements.set(tag, { value: present, ticks: hlc.ticks, node: hlc.node });
    doc.maxTicks = Math.max(doc.maxTicks, hlc.ticks);
  }

  delete(id: string, hlc: Hlc): void {
    if (this.rng.chance(0.5)) this.store.delete(COLLECTION, id, hlc);
    else this.store.applyTriple({ collection: COLLECTION, id, field: DELETED_FIELD, value: true, hlc: encodeHlc(hlc) });
    this.docOf(id).isDeleted = true;
  }

  liveDocs(): ModelDoc[] {
    return [...this.docs.values()].filter((doc) => !doc.isDeleted);
  }

  private docOf(id: string): ModelDoc {
    let doc = this.docs.get(id);
    if (doc === undefined)
      this.docs.set(id, (doc = { id, cells: new Map(), elements: new Map(), maxTicks: 0, isDeleted: false }));
    return doc;
  }
}

function isJsonable(value: unknown): boolean {
  return typeof value !== "number" || Number.isFinite(value);
}

// ---- data generation ----

const BASE_MS = 1_700_000_000_000;
const NODES = ["n1", "n2", "n3"];

/** A valid value, a wrong-typed one, a removal (null), or nothing (undefined: not written). */
function fieldValue(rng: Rng, valid: () => unknown, wrong: readonly unknown[], missing = 0.15): unknown {
  const roll = rng.next();
  if (roll < missing) return undefined;
  if (roll < missing + 0.05) return rng.pick(wrong);
  if (roll < missing + 0.08) return null;
  return valid();
}

function createDocument(world: World, rng: Rng, pools: Pools, id: string, hlc: Hlc): void {
  const strings = () => rng.pick(pools.strings);
  const numbers = () => rng.pick(pools.numbers);
  const dates = () => rng.pick(pools.dates);
  const ids = [...world.docs.keys()];
  const fields: Array<[string, unknown]> = [
    [CREATED_AT_FIELD, fieldValue(rng, () => rng.pick(pools.createdAts), ["2020-01-01", Number.NaN, true], 0.08)],
    [CREATED_BY_FIELD, fieldValue(rng, () => rng.pick(pools.users), [42, false], 0.25)],
    ["title", fieldValue(rng, strings, [42, true, ["x"]])],
    ["label", fieldValue(rng, strings, [7, false], 0.3)],
    ["nick", fieldValue(rng, strings, [0, { name: "x" }], 0.4)],
    ["score", fieldValue(rng, numbers, ["12", Number.POSITIVE_INFINITY, Number.NaN, true])],
    ["rank", fieldValue(rng, numbers, ["3", false], 0.3)],
    ["active", fieldValue(rng, () => rng.chance(0.5), [1, "true", 0])],
    ["flag", fieldValue(rng, () => rng.chance(0.5), [0, "false"], 0.35)],
    ["due", fieldValue(rng, dates, ["2020-01-01", Number.NEGATIVE_INFINITY], 0.3)],
    ["since", fieldValue(rng, dates, [true, "yesterday"], 0.3)],
    ["seen", fieldValue(rng, dates, ["now", {}], 0.4)],
    [
      "ownerId",
      fieldValue(rng, () => (ids.length > 0 && rng.chance(0.9) ? rng.pick(ids) : "dangling"), [5, true], 0.3),
    ],
    [
      "meta",
      fieldValue(
        rng,
        () => rng.pick<unknown>([{ a: 1 }, [1, 2], "text", 0, false, "", { nested: { deep: [] } }]),
        [],
        0.4,
      ),
    ],
  ];
  let written = 0;
  for (const [field, value] of fields) {
    if (value === undefined) continue;
    world.write(id, field, value, hlc);
    written++;
  }
  if (rng.chance(0.01)) {
    // A plain value in a set field (say, from an old client that stored tags as one string).
    world.write(id, "tagIds", rng.pick(["tag1", 3, true]), hlc);
    return;
  }
  for (let i = rng.chance(0.3) ? 0 : rng.int(1, 4); i > 0; i--) {
    world.writeElement(id, rng.chance(0.95) ? rng.pick(pools.tagIds) : "dangling-tag", true, hlc);
    written++;
  }
  if (written === 0) world.write(id, "title", null, hlc);
}

function randomId(rng: Rng): string {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
  let id = "";
  for (let i = rng.int(1, 10); i > 0; i--) id += chars[rng.int(0, chars.length - 1)];
  return id;
}

function freshId(world: World, rng: Rng): string {
  for (;;) {
    const id = randomId(rng);
    if (!world.docs.has(id)) return id;
  }
}

/** Phase 1: the initial data set. Many documents share a millisecond, so updatedAt repeats. */
function load(world: World, rng: Rng, pools: Pools, count: number): void {
  world.store.transact(() => {
    for (let i = 0; i < count; i++) {
      const hlc = { ticks: (BASE_MS + rng.int(0, 40)) * TICKS_PER_MS + rng.int(0, 1023), node: rng.pick(NODES) };
      createDocument(world, rng, pools, freshId(world, rng), hlc);
    }
  });
}

/**
 * Later phases, after indexes exist: updates, removals, set changes, deletes, new documents, and
 * stale writes (older HLCs) that must lose to what they would overwrite.
 */
function mutate(world: World, rng: Rng, pools: Pools, phase: number, count: number): void {
  // Strictly increasing HLCs, three to a millisecond (so updatedAt repeats); stale ones are
  // older than anything loaded, and unique too, so the model never meets an HLC tie.
  let step = 0;
  let staleStep = 0;
  const nextHlc = (): Hlc => {
    const at = step++;
    const ms = BASE_MS + phase * 1000 + Math.floor(at / 3);
    return { ticks: ms * TICKS_PER_MS + (at % 3) * 300 + rng.int(0, 299), node: rng.pick(NODES) };
  };
  const staleHlc = (): Hlc => ({
    ticks: (BASE_MS - 5000 + phase * 100) * TICKS_PER_MS + staleStep++,
    node: rng.pick(NODES),
  });
  const updatable = [
    ...["title", "label", "nick", "score", "rank", "active", "flag", "due", "since", "seen", "ownerId", "meta"],
    CREATED_BY_FIELD,
  ];
  for (let i = 0; i < count; i++) {
    const ids = [...world.docs.keys()];
    const id = rng.pick(ids);
    const roll = rng.next();
    const inTransaction = rng.chance(0.5);
    const run = (body: () => void) => (inTransaction ? world.store.transact(body) : body());
    run(() => {
      if (roll < 0.08) {
        world.delete(id, nextHlc());
      } else if (roll < 0.2) {
        createDocument(world, rng, pools, freshId(world, rng), nextHlc());
      } else if (roll < 0.4) {
        const hlc = nextHlc();
        const doc = world.docs.get(id)!;
        const hasPlainTags = doc.cells.get("tagIds") !== undefined;
        if (hasPlainTags) return;
        // Distinct elements: one HLC never carries two values for one cell.
        const touched = new Set<string>();
        for (let n = rng.int(1, 3); n > 0; n--) {
          const members = [...doc.elements].filter(([, cell]) => cell.value === true).map(([tag]) => tag);
          const removes = members.length > 0 && rng.chance(0.5);
          const tag = removes ? rng.pick(members) : rng.pick(pools.tagIds);
          if (touched.has(tag)) continue;
          touched.add(tag);
          world.writeElement(id, tag, !removes, hlc);
        }
      } else if (roll < 0.5) {
        // A stale write: loses wherever the cell was written, wins where it never was.
        world.write(id, rng.pick(updatable), rng.pick(pools.strings), staleHlc());
      } else {
        const hlc = nextHlc();
        const touched = new Set<string>();
        for (let n = rng.int(1, 3); n > 0; n--) {
          const field = rng.pick(updatable);
          if (touched.has(field)) continue;
          touched.add(field);
          const value = rng.chance(0.15)
            ? rng.pick<unknown>([null, 99, "wrong", false])
            : field === "score" || field === "rank"
              ? rng.pick(pools.numbers)
              : field === "active" || field === "flag"
                ? rng.chance(0.5)
                : field === "due" || field === "since" || field === "seen"
                  ? rng.pick(pools.dates)
                  : field === "meta"
                    ? { phase }
                    : field === CREATED_BY_FIELD
                      ? rng.pick(pools.users)
                      : field === "ownerId"
                        ? rng.pick(ids)
                        : rng.pick(pools.strings);
          world.write(id, field, value, hlc);
        }
      }
    });
  }
}

// ---- the oracle ----

const COLUMNS = FIELDS.filter((field) => field.kind !== "refMany").map((field) => field.name);

/** How `createdAt` sorts: its milliseconds plus the fraction its cell's HLC counter adds (creation order within a millisecond). */
function createdAtOrder(doc: ModelDoc): number | undefined {
  const millis = asNumber(stored(doc, CREATED_AT_FIELD));
  const cell = doc.cells.get(CREATED_AT_FIELD);
  return millis === undefined || cell === undefined ? millis : millis + (cell.ticks % TICKS_PER_MS) / TICKS_PER_MS;
}

function toSql(field: QueryField, value: unknown): unknown {
  if (value === undefined) return null;
  if (field.kind === "boolean") return value ? 1 : 0;
  if (field.kind === "json") return JSON.stringify(value);
  return value;
}

function createOracle(): { db: Database.Database; reload(docs: readonly ModelDoc[]): void } {
  const db = new Database(":memory:");
  // No declared column types: SQLite keeps every value exactly as inserted (no affinity).
  db.exec(
    `CREATE TABLE items (${COLUMNS.map((name) => (name === "id" ? `"id" TEXT PRIMARY KEY` : `"${name}"`)).join(", ")}, "createdAtOrder")`,
  );
  db.exec(`CREATE TABLE item_tags (item TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (item, tag))`);
  const insert = db.prepare(`INSERT INTO items VALUES (${COLUMNS.map(() => "?").join(", ")}, ?)`);
  const insertTag = db.prepare(`INSERT INTO item_tags VALUES (?, ?)`);
  const reload = db.transaction((docs: readonly ModelDoc[]) => {
    db.exec("DELETE FROM items; DELETE FROM item_tags;");
    for (const doc of docs) {
      insert.run([
        ...COLUMNS.map((name) => toSql(FIELD.get(name)!, FIELD.get(name)!.read(doc))),
        createdAtOrder(doc) ?? null,
      ]);
      for (const tag of FIELD.get("tagIds")!.read(doc) as string[]) insertTag.run(doc.id, tag);
    }
  });
  return { db, reload };
}

const RANGES: Operator[] = ["greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"];
const MEMBERSHIP: Operator[] = ["equals", "notEquals", "in", "notIn", "isDefined", "isUndefined"];
const OPERATORS_BY_KIND: Record<Kind, Operator[]> = {
  string: [...MEMBERSHIP, "contains", "startsWith", "endsWith", ...RANGES],
  number: [...MEMBERSHIP, ...RANGES],
  date: [...MEMBERSHIP, ...RANGES],
  boolean: MEMBERSHIP,
  refMany: MEMBERSHIP,
  json: ["isDefined", "isUndefined"],
};
/** A field in SQL: a column of items, or for the set field a membership subquery on item_tags. */
function conditionOf(field: QueryField, op: Operator, operand: unknown, params: unknown[]): string {
  if (field.kind !== "refMany") return conditionSql({ column: `"${field.name}"` }, op, operand, params);
  const exists = (test: string) => `EXISTS (SELECT 1 FROM item_tags WHERE item_tags.item = items.id${test})`;
  return conditionSql({ column: "", set: { exists, member: "tag" } }, op, operand, params);
}

// ---- random queries ----

interface GeneratedQuery {
  readonly query: Record<string, unknown>;
  readonly sql: string;
  readonly params: unknown[];
}

const SELECT_ALL = Object.fromEntries(FIELDS.map((field) => [field.name, true]));

function createQueryGenerator(rng: Rng, pools: Pools, coverage: Map<string, number>) {
  const cover = (key: string) => coverage.set(key, (coverage.get(key) ?? 0) + 1);
  /** A value of the field that occurs in the data (usually), or one from the pools. */
  const sampleOf = (field: QueryField, docs: readonly ModelDoc[], allIds: readonly string[]): unknown => {
    if (field.kind === "refMany") return rng.chance(0.9) ? rng.pick(pools.tagIds) : "no-such-tag";
    if (field.kind === "boolean") return rng.chance(0.5);
    if (field.name === "id" && rng.chance(0.3)) return rng.chance(0.5) ? rng.pick(allIds) : randomId(rng);
    let value = rng.chance(0.8) && docs.length > 0 ? field.read(rng.pick(docs)) : undefined;
    if (value === undefined) {
      value =
        field.kind === "string"
          ? rng.pick(pools.strings)
          : field.kind === "number"
            ? rng.pick(pools.numbers)
            : rng.pick(field.name === "createdAt" || field.name === "seen" ? pools.createdAts : pools.dates);
    }
    if (field.kind === "number" && rng.chance(0.15)) value = (value as number) + rng.pick([-0.5, 0.5, -1, 1]);
    if (field.kind === "date" && rng.chance(0.15)) value = (value as number) + rng.pick([-1, 1]);
    return field.kind === "date" ? new Date(value as number) : value;
  };

  const substringOf = (field: QueryField, docs: readonly ModelDoc[], op: Operator): string => {
    if (rng.chance(0.15)) return randomString(rng, 2);
    const text = String(docs.length > 0 ? (field.read(rng.pick(docs)) ?? rng.pick(pools.strings)) : "");
    const start = op === "startsWith" ? 0 : rng.int(0, text.length);
    const end = op === "endsWith" ? text.length : rng.int(start, text.length);
    return text.slice(start, end);
  };

  const operandOf = (
    field: QueryField,
    op: Operator,
    docs: readonly ModelDoc[],
    allIds: readonly string[],
  ): unknown => {
    switch (op) {
      case "isDefined":
      case "isUndefined":
        return rng.chance(0.8);
      case "contains":
      case "startsWith":
      case "endsWith":
        return substringOf(field, docs, op);
      case "in":
      case "notIn": {
        // Duplicates in the list must not duplicate results.
        const list = Array.from({ length: rng.int(0, 5) }, () => sampleOf(field, docs, allIds));
        if (list.length > 0 && rng.chance(0.3)) list.push(rng.pick(list));
        return list;
      }
      default:
        return sampleOf(field, docs, allIds);
    }
  };

  /**
   * A random `where` and its SQL conditions (to be joined by AND), binding operands into
   * `params` in the order of the SQL text. Below the top level it may combine filters with `or`,
   * `and` and `not`; SQL's NULL (unknown) counts as not matching, as in the engine.
   */
  const filterOf = (
    docs: readonly ModelDoc[],
    allIds: readonly string[],
    params: unknown[],
    depth: number,
  ): { where: Record<string, unknown>; clauses: string[]; fieldCount: number } => {
    const where: Record<string, unknown> = {};
    const clauses: string[] = [];
    const conjunction = (parts: readonly string[]) =>
      parts.length === 0 ? "1" : parts.map((part) => `(${part})`).join(" AND ");
    const fieldCount = depth === 0 ? rng.pick([0, 1, 1, 2, 2, 3]) : rng.pick([0, 1, 1, 2]);
    for (let i = 0; i < fieldCount; i++) {
      const field = rng.pick(FILTERABLE);
      if (Object.hasOwn(where, field.name)) continue;
      const operators = OPERATORS_BY_KIND[field.kind];
      if (field.kind !== "json" && rng.chance(0.2)) {
        // A bare value means equals.
        const operand = sampleOf(field, docs, allIds);
        where[field.name] = operand;
        clauses.push(conditionOf(field, "equals", operand, params));
        cover(`${field.name} equals`);
        cover(`${field.kind} bare`);
        continue;
      }
      const filter: Record<string, unknown> = {};
      for (let n = rng.int(1, 2); n > 0; n--) {
        const op = rng.pick(operators);
        if (Object.hasOwn(filter, op)) continue;
        const operand = operandOf(field, op, docs, allIds);
        filter[op] = operand;
        clauses.push(conditionOf(field, op, operand, params));
        cover(`${field.name} ${op}`);
        cover(`${field.kind} ${op}`);
      }
      where[field.name] = filter;
    }
    if (depth < 2 && rng.chance(depth === 0 ? 0.25 : 0.15)) {
      const branches = Array.from({ length: rng.int(1, 3) }, () => filterOf(docs, allIds, params, depth + 1));
      where.or = branches.map((branch) => branch.where);
      clauses.push(`(${branches.map((branch) => `(${conjunction(branch.clauses)})`).join(" OR ")})`);
      cover(`or of ${branches.length}`);
    }
    if (depth < 2 && rng.chance(depth === 0 ? 0.2 : 0.1)) {
      const negated = filterOf(docs, allIds, params, depth + 1);
      where.not = negated.where;
      clauses.push(`NOT IFNULL((${conjunction(negated.clauses)}), 0)`);
      cover("not");
    }
    if (depth < 2 && rng.chance(0.1)) {
      const parts = Array.from({ length: rng.int(1, 2) }, () => filterOf(docs, allIds, params, depth + 1));
      where.and = parts.map((part) => part.where);
      for (const part of parts) clauses.push(conjunction(part.clauses));
      cover("and");
    }
    return { where, clauses, fieldCount };
  };

  return (docs: readonly ModelDoc[], allIds: readonly string[]): GeneratedQuery => {
    const params: unknown[] = [];
    const { where, clauses, fieldCount } = filterOf(docs, allIds, params, 0);

    const orderBy: Array<[string, "asc" | "desc"]> = [];
    for (let n = rng.pick([0, 1, 1, 1, 2, 2, 3]); n > 0; n--) {
      const field = rng.pick(SORTABLE).name;
      if (!orderBy.some(([name]) => name === field)) orderBy.push([field, rng.chance(0.5) ? "asc" : "desc"]);
    }
    const limit = rng.chance(0.4) ? undefined : rng.pick([0, 1, 2, 3, 5, 10, 25, 100, 1000, 5000]);

    const query: Record<string, unknown> = { fields: SELECT_ALL };
    if (fieldCount > 0 || Object.keys(where).length > 0 || rng.chance(0.5)) query.where = where;
    if (orderBy.length === 1 && rng.chance(0.5)) query.orderBy = orderBy[0];
    else if (orderBy.length > 0) query.orderBy = orderBy;
    if (limit !== undefined) query.limit = limit;

    const order = [
      ...orderBy.map(
        ([name, direction]) => `"${name === "createdAt" ? "createdAtOrder" : name}" ${direction.toUpperCase()}`,
      ),
      `"id" ASC`,
    ].join(", ");
    let sql = `SELECT id FROM items${clauses.length > 0 ? ` WHERE ${clauses.join(" AND ")}` : ""} ORDER BY ${order}`;
    if (limit !== undefined) {
      sql += " LIMIT ?";
      params.push(limit);
    }
    for (const [name] of orderBy) cover(`orderBy ${name}`);
    cover(`orderBy keys ${orderBy.length}`);
    return { query, sql, params };
  };
}

// ---- comparison ----

/** A query as text, with Dates spelled out so a failure can be replayed by hand. */
function describeQuery(query: unknown): string {
  return JSON.stringify(query, function (this: Record<string, unknown>, key, value) {
    const raw = this[key];
    return raw instanceof Date ? `Date(${raw.getTime()})` : value;
  });
}

/** A value in comparable form: Dates as ms, and -0 as 0 (one value to SQLite and to `===`). */
function comparable(value: unknown): unknown {
  if (value instanceof Date) return value.getTime();
  return typeof value === "number" && value === 0 ? 0 : value;
}

interface Mismatch {
  readonly kind: "ids" | "values";
  readonly text: string;
}

function runPhase(
  label: string,
  world: World,
  oracle: ReturnType<typeof createOracle>,
  nextQuery: ReturnType<typeof createQueryGenerator>,
  count: number,
  mismatches: Mismatch[],
): { rows: number; matched: number } {
  const live = world.liveDocs();
  oracle.reload(live);
  const table = world.store.table(COLLECTION)!;
  expect(table.liveCount, `${label}: live documents in the store`).toBe(live.length);
  const allIds = [...world.docs.keys()];
  let rows = 0;
  let matched = 0;
  for (let i = 0; i < count; i++) {
    const { query, sql, params } = nextQuery(live, allIds);
    const normalized = normalizeQuery(itemsSpec, query);
    if (normalized.error) {
      const text = `${label} query #${i} was rejected: ${normalized.error.message}\n  query: ${describeQuery(query)}`;
      mismatches.push({ kind: "ids", text });
      continue;
    }
    const resultRows = runQuery(world.store, normalized.data);
    const actual = resultRows.map((row) => table.idOf(row));
    const expected = (oracle.db.prepare(sql).all(...(params as never[])) as Array<{ id: string }>).map((row) => row.id);
    rows += expected.length;
    if (expected.length > 0) matched++;
    const sameIds = actual.length === expected.length && actual.every((id, at) => id === expected[at]);
    if (!sameIds) {
      const at = actual.findIndex((id, index) => id !== expected[index]);
      const first = at === -1 ? Math.min(actual.length, expected.length) : at;
      const docOf = (id: string | undefined) => {
        if (id === undefined) return "-";
        const doc = world.docs.get(id)!;
        return JSON.stringify(Object.fromEntries(FIELDS.map((field) => [field.name, field.read(doc) ?? null])));
      };
      mismatches.push({
        kind: "ids",
        text:
          `${label} query #${i}: ${describeQuery(query)}\n  sql: ${sql}\n  params: ${JSON.stringify(params)}\n` +
          `  sqlite (${expected.length}): ${JSON.stringify(expected.slice(0, 12))}\n` +
          `  engine (${actual.length}): ${JSON.stringify(actual.slice(0, 12))}\n` +
          `  first difference at ${first}: sqlite ${docOf(expected[first])}\n                       engine ${docOf(actual[first])}`,
      });
      continue;
    }
    // The values returned are the values as read, too (first rows only, to keep it quick).
    const materialize = compileMaterializer(normalized.data);
    for (const row of resultRows.slice(0, 8)) {
      const doc = materialize(table, row);
      const model = world.docs.get(table.idOf(row))!;
      for (const field of FIELDS) {
        const got = comparable(doc[field.name]);
        const want = comparable(field.read(model));
        if (JSON.stringify(got) !== JSON.stringify(want) || (got === undefined) !== (want === undefined)) {
          const text = `${label} query #${i}: document ${model.id} field ${field.name} reads ${JSON.stringify(got)}`;
          mismatches.push({ kind: "values", text: `${text}, expected ${JSON.stringify(want)}` });
        }
      }
    }
  }
  return { rows, matched };
}

describe("query engine against SQLite", () => {
  const oracle = createOracle();
  afterAll(() => oracle.db.close());

  it("returns the same ids in the same order as SQLite for random queries over random data", () => {
    const seed = lawSeed();
    const rng = createRng(seed);
    const pools = createPools(rng);
    const world = new World(rng);
    const coverage = new Map<string, number>();
    const nextQuery = createQueryGenerator(rng, pools, coverage);
    const mismatches: Mismatch[] = [];

    load(world, rng, pools, 2200);
    const stats = [runPhase("phase 1 (initial load)", world, oracle, nextQuery, 500, mismatches)];
    // Indexes now exist; change the data under them and ask again.
    mutate(world, rng, pools, 1, 600);
    stats.push(runPhase("phase 2 (after updates and deletes)", world, oracle, nextQuery, 400, mismatches));
    mutate(world, rng, pools, 2, 600);
    stats.push(runPhase("phase 3 (after more changes)", world, oracle, nextQuery, 300, mismatches));

    if (mismatches.length > 0) {
      const ids = mismatches.filter((mismatch) => mismatch.kind === "ids");
      const values = mismatches.filter((mismatch) => mismatch.kind === "values");
      const shown = [...ids.slice(0, 4), ...values.slice(0, 4)].map((mismatch) => mismatch.text);
      expect.fail(
        `${reproduce(seed)}\n${ids.length} queries returned other ids than SQLite, ${values.length} values read wrong; ` +
          `the first ones:\n\n${shown.join("\n\n")}`,
      );
    }
    // The generator must produce queries that select something, or the comparison proves little.
    const queries = 1200;
    const matched = stats.reduce((sum, each) => sum + each.matched, 0);
    expect(matched, `${reproduce(seed)}: queries with a non-empty result`).toBeGreaterThan(queries * 0.4);
    expect(world.liveDocs().length).toBeGreaterThanOrEqual(2000);
    // Every operator on every kind of field, bare values, the auto fields and sorting on each
    // sortable field all came up (with this generator, under any seed).
    const expectedKeys = [
      ...Object.entries(OPERATORS_BY_KIND).flatMap(([kind, operators]) => operators.map((op) => `${kind} ${op}`)),
      ...["string", "number", "boolean", "date", "refMany"].map((kind) => `${kind} bare`),
      ...["id", "createdAt", "updatedAt", "createdBy"].flatMap((name) => [
        `${name} equals`,
        `${name} in`,
        `${name} notEquals`,
      ]),
      ...["createdAt", "updatedAt", "id"].map((name) => `${name} greaterThan`),
      ...SORTABLE.map((field) => `orderBy ${field.name}`),
      "orderBy keys 0",
      "orderBy keys 3",
      "or of 1",
      "or of 3",
      "not",
      "and",
    ];
    const missing = expectedKeys.filter((key) => (coverage.get(key) ?? 0) === 0);
    expect(missing, `${reproduce(seed)}: query shapes the generator never produced`).toEqual([]);
  });
});
