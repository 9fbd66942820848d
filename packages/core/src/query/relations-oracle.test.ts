import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { encodeHlc, type Hlc, TICKS_PER_MS } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import { lawSeed, reproduce } from "../testing/law-seed.js";
import { conditionSql, createRng, type Rng, type SqlField } from "../testing/sql-oracle.js";
import { CREATED_AT_FIELD, DELETED_FIELD } from "../triples.js";
import type { LiveQuery } from "./live-query.js";
import { LiveQueryRegistry } from "./live-registry.js";
import { compileMaterializer } from "./materialize.js";
import { normalizeQuery } from "./normalize.js";
import type { Operator } from "./normalized-query.js";
import { runQuery } from "./run-query.js";

/**
 * Differential test of relations against SQLite joins (docs/relations.md). Random users, tags, posts and
 * comments go into a TripleStore as raw triples (wrong-typed and dangling refs included) and, as
 * read (fallbacks applied, NULL for undefined), into SQLite tables plus a post_tags join table.
 * Random queries with relations (forward refs, refMany, reverse relations through a ref or a
 * refMany, nested two and three levels, with nested where/orderBy/limit) must return the same
 * documents, in the same order, with the same nested contents as SQL computes: each relation
 * level is one join, ranked per parent with ROW_NUMBER() over the nested orderBy plus id. Some
 * queries stay live (through a LiveQueryRegistry) across the later phases' writes and must equal
 * SQL there too. The read rules are written out again here, independently of schema/read.ts.
 */

const schema = createSchema({
  entities: {
    users: {
      name: t.string({ fallback: "anon" }),
      age: t.number({ optional: true }),
      active: t.boolean({ fallback: false }),
      joined: t.date({ fallback: "now" }),
    },
    tags: { label: t.string({ optional: true }), weight: t.number({ fallback: 0 }) },
    posts: {
      title: t.string({ fallback: "untitled" }),
      score: t.number({ optional: true }),
      published: t.boolean({ optional: true }),
      due: t.date({ optional: true }),
      authorId: t.ref("users"),
      editorId: t.ref("users"),
      tagIds: t.refMany("tags"),
    },
    comments: {
      text: t.string({ optional: true, fallback: "-" }),
      votes: t.number({ fallback: 0 }),
      postId: t.ref("posts"),
      authorId: t.ref("users"),
      replyTo: t.ref("comments"),
    },
  },
});

// ---- the model: collections, fields and their read rules ----

type Kind = "string" | "number" | "boolean" | "date" | "ref" | "refMany";

interface FieldModel {
  readonly name: string;
  readonly kind: Kind;
  /** The fallback as read (dates in ms), "now" for the creation time, or undefined. */
  readonly fallback?: unknown;
}

const AUTO: readonly FieldModel[] = [
  { name: "id", kind: "string" },
  { name: "createdAt", kind: "date" },
  { name: "updatedAt", kind: "date" },
];
const FIELDS: Record<string, readonly FieldModel[]> = {
  users: [
    ...AUTO,
    { name: "name", kind: "string", fallback: "anon" },
    { name: "age", kind: "number" },
    { name: "active", kind: "boolean", fallback: false },
    { name: "joined", kind: "date", fallback: "now" },
  ],
  tags: [...AUTO, { name: "label", kind: "string" }, { name: "weight", kind: "number", fallback: 0 }],
  posts: [
    ...AUTO,
    { name: "title", kind: "string", fallback: "untitled" },
    { name: "score", kind: "number" },
    { name: "published", kind: "boolean" },
    { name: "due", kind: "date" },
    { name: "authorId", kind: "ref" },
    { name: "editorId", kind: "ref" },
    { name: "tagIds", kind: "refMany" },
  ],
  comments: [
    ...AUTO,
    { name: "text", kind: "string", fallback: "-" },
    { name: "votes", kind: "number", fallback: 0 },
    { name: "postId", kind: "ref" },
    { name: "authorId", kind: "ref" },
    { name: "replyTo", kind: "ref" },
  ],
};
const COLLECTIONS = ["users", "tags", "posts", "comments"] as const;
type Collection = (typeof COLLECTIONS)[number];
const fieldOf = (collection: string, name: string) => FIELDS[collection]!.find((field) => field.name === name)!;

/** A relation a query can select: its key in `fields`, and how SQL joins it. */
interface RelationModel {
  readonly from: Collection;
  readonly name: string;
  readonly to: Collection;
  readonly direction: "forward" | "reverse";
  /** The link field (in `from` for forward links, in `to` for reverse ones). */
  readonly link: string;
  readonly cardinality: "one" | "many";
  /** The reverse link is ambiguous without `via`. */
  readonly needsVia?: boolean;
  /** Other links `via` may name (reverse relations with several refs pointing back). */
  readonly alternatives?: readonly string[];
}

const RELATIONS: readonly RelationModel[] = [
  {
    from: "users",
    name: "posts",
    to: "posts",
    direction: "reverse",
    link: "authorId",
    cardinality: "many",
    needsVia: true,
    alternatives: ["editorId"],
  },
  { from: "users", name: "comments", to: "comments", direction: "reverse", link: "authorId", cardinality: "many" },
  { from: "tags", name: "posts", to: "posts", direction: "reverse", link: "tagIds", cardinality: "many" },
  { from: "posts", name: "authorId", to: "users", direction: "forward", link: "authorId", cardinality: "one" },
  { from: "posts", name: "editorId", to: "users", direction: "forward", link: "editorId", cardinality: "one" },
  { from: "posts", name: "tagIds", to: "tags", direction: "forward", link: "tagIds", cardinality: "many" },
  { from: "posts", name: "comments", to: "comments", direction: "reverse", link: "postId", cardinality: "many" },
  { from: "comments", name: "postId", to: "posts", direction: "forward", link: "postId", cardinality: "one" },
  { from: "comments", name: "authorId", to: "users", direction: "forward", link: "authorId", cardinality: "one" },
  { from: "comments", name: "replyTo", to: "comments", direction: "forward", link: "replyTo", cardinality: "one" },
  { from: "comments", name: "comments", to: "comments", direction: "reverse", link: "replyTo", cardinality: "many" },
];

interface Cell {
  readonly value: unknown;
  readonly ticks: number;
  readonly node: string;
}

interface ModelDoc {
  readonly id: string;
  readonly cells: Map<string, Cell>;
  /** Elements of the one set field (posts.tagIds). */
  readonly elements: Map<string, Cell>;
  maxTicks: number;
  isDeleted: boolean;
}

const stored = (doc: ModelDoc, field: string) => doc.cells.get(field)?.value;
const asNumber = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : undefined);

/** How `createdAt` sorts: its milliseconds plus the fraction its cell's HLC counter adds (creation order within a millisecond). */
function createdAtOrder(doc: ModelDoc): number | undefined {
  const millis = asNumber(stored(doc, CREATED_AT_FIELD));
  const cell = doc.cells.get(CREATED_AT_FIELD);
  return millis === undefined || cell === undefined ? millis : millis + (cell.ticks % TICKS_PER_MS) / TICKS_PER_MS;
}

/** The value a field reads as, in comparable form (dates as ms, sets as sorted ids), or undefined. */
function readField(doc: ModelDoc, field: FieldModel): unknown {
  switch (field.name) {
    case "id":
      return doc.id;
    case "createdAt":
      return asNumber(stored(doc, CREATED_AT_FIELD));
    case "updatedAt":
      return Math.floor(doc.maxTicks / TICKS_PER_MS);
  }
  const value = stored(doc, field.name);
  switch (field.kind) {
    case "string":
    case "ref":
      return typeof value === "string" ? value : field.fallback;
    case "number":
      return asNumber(value) ?? field.fallback;
    case "boolean":
      return typeof value === "boolean" ? value : field.fallback;
    case "date":
      return asNumber(value) ?? (field.fallback === "now" ? asNumber(stored(doc, CREATED_AT_FIELD)) : field.fallback);
    case "refMany":
      // A plain (non-set) value in a set field has the wrong type: the set reads as empty.
      if (value !== undefined && value !== null) return [];
      return [...doc.elements]
        .filter(([, cell]) => cell.value === true)
        .map(([id]) => id)
        .sort();
  }
}

function wins(ticks: number, node: string, current: Cell | undefined): boolean {
  return current === undefined || ticks > current.ticks || (ticks === current.ticks && node > current.node);
}

// ---- the engine side: one TripleStore fed with raw triples, mirrored into the model ----

class World {
  readonly store = new TripleStore();
  readonly docs: Record<Collection, Map<string, ModelDoc>> = {
    users: new Map(),
    tags: new Map(),
    posts: new Map(),
    comments: new Map(),
  };
  /** Every id ever used, in any collection (the source of dangling refs to other collections). */
  readonly allIds: string[] = [];

  constructor(private readonly rng: Rng) {}

  /** Writes one plain cell, alternately through setField and applyTriple (the sync path). */
  write(collection: Collection, id: string, field: string, value: unknown, hlc: Hlc): void {
    const doc = this.docOf(collection, id);
    if (this.rng.chance(0.5) || (typeof value === "number" && !Number.isFinite(value))) {
      this.store.setField(collection, id, field, value, hlc);
    } else {
      expect(this.store.applyTriple({ collection, id, field, value, hlc: encodeHlc(hlc) }).error).toBeUndefined();
    }
    if (doc.isDeleted || !wins(hlc.ticks, hlc.node, doc.cells.get(field))) return;
    doc.cells.set(field, { value, ticks: hlc.ticks, node: hlc.node });
    doc.maxTicks = Math.max(doc.maxTicks, hlc.ticks);
  }

  writeElement(id: string, tag: string, present: boolean, hlc: Hlc): void {
    const doc = this.docOf("posts", id);
    if (this.rng.chance(0.5)) this.store.setElement("posts", id, "tagIds", tag, present, hlc);
    else {
      const triple = { collection: "posts", id, field: "tagIds", element: tag, value: present, hlc: encodeHlc(hlc) };
      expect(this.store.applyTriple(triple).error).toBeUndefined();
    }
    if (doc.isDeleted || !wins(hlc.ticks, hlc.node, doc.elements.get(tag))) return;
    doc.elements.set(tag, { value: present, ticks: hlc.ticks, node: hlc.node });
    doc.maxTicks = Math.max(doc.maxTicks, hlc.ticks);
  }

  delete(collection: Collection, id: string, hlc: Hlc): void {
    if (this.rng.chance(0.5)) this.store.delete(collection, id, hlc);
    else this.store.applyTriple({ collection, id, field: DELETED_FIELD, value: true, hlc: encodeHlc(hlc) });
    this.docOf(collection, id).isDeleted = true;
  }

  liveDocs(collection: Collection): ModelDoc[] {
    return [...this.docs[collection].values()].filter((doc) => !doc.isDeleted);
  }

  ids(collection: Collection): string[] {
    return [...this.docs[collection].keys()];
  }

  freshId(): string {
    const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    for (;;) {
      let id = "";
      for (let i = this.rng.int(1, 6); i > 0; i--) id += chars[this.rng.int(0, chars.length - 1)];
      if (!this.allIds.includes(id)) {
        this.allIds.push(id);
        return id;
      }
    }
  }

  private docOf(collection: Collection, id: string): ModelDoc {
    let doc = this.docs[collection].get(id);
    if (doc === undefined) {
      doc = { id, cells: new Map(), elements: new Map(), maxTicks: 0, isDeleted: false };
      this.docs[collection].set(id, doc);
    }
    return doc;
  }
}

// ---- data generation ----

const BASE_MS = 1_700_000_000_000;
const NODES = ["n1", "n2", "n3"];
// ASCII plus BMP characters below U+D800: UTF-8 byte order (SQLite) equals UTF-16 code-unit order.
const STRINGS = ["", "a", "A", "ab", "abc", "b", "ba", "B", "é", "中", "z9", "Ω", "a b", "-"];
const NUMBERS = [0, -0, 1, -1, 2, 2.5, -2.5, 3, 10, 100, 0.1 + 0.2, 1e9];
const DATES = [0, -86_400_000, BASE_MS, BASE_MS + 1, BASE_MS + 60_000, BASE_MS - 3_600_000];
const CREATED_ATS = [BASE_MS - 10_000, BASE_MS - 5_000, BASE_MS - 5_000 + 1, BASE_MS - 1_000];

/** A valid value, a wrong-typed one, a removal (null), or nothing (undefined: not written). */
function fieldValue(rng: Rng, valid: () => unknown, wrong: readonly unknown[], missing = 0.15): unknown {
  const roll = rng.next();
  if (roll < missing) return undefined;
  if (roll < missing + 0.05) return rng.pick(wrong);
  if (roll < missing + 0.08) return null;
  return valid();
}

/** A ref value: usually an id of the target (live or deleted), sometimes dangling or of another collection. */
function refValue(world: World, rng: Rng, target: Collection): unknown {
  const ids = world.ids(target);
  const roll = rng.next();
  if (roll < 0.88 && ids.length > 0) return rng.pick(ids);
  if (roll < 0.94 && world.allIds.length > 0) return rng.pick(world.allIds);
  return "dangling";
}

/** Valid values and wrong-typed ones of each field, for creates and updates. */
function valueOf(world: World, rng: Rng, collection: Collection, field: FieldModel): unknown {
  switch (field.kind) {
    case "string":
      return rng.chance(0.08) ? rng.pick<unknown>([42, true, ["x"]]) : rng.pick(STRINGS);
    case "number":
      return rng.chance(0.08)
        ? rng.pick<unknown>(["1", Number.NaN, Number.POSITIVE_INFINITY, false])
        : rng.pick(NUMBERS);
    case "boolean":
      return rng.chance(0.08) ? rng.pick<unknown>([1, "true"]) : rng.chance(0.5);
    case "date":
      return rng.chance(0.08) ? rng.pick<unknown>(["2020-01-01", true]) : rng.pick(DATES);
    case "ref": {
      const target = RELATIONS.find(
        (relation) => relation.from === collection && relation.direction === "forward" && relation.link === field.name,
      )!.to;
      // A wrong-typed ref may be an array holding a real id: it still reads as no ref.
      if (rng.chance(0.06)) return rng.pick<unknown>([5, true, [refValue(world, rng, target)]]);
      return refValue(world, rng, target);
    }
    case "refMany":
      throw new Error("sets are written element by element");
  }
}

const MISSING: Record<string, number> = {
  editorId: 0.5,
  replyTo: 0.55,
  age: 0.3,
  label: 0.3,
  published: 0.3,
  due: 0.4,
  joined: 0.4,
};

function createDocument(world: World, rng: Rng, collection: Collection, id: string, hlc: Hlc): void {
  let written = 0;
  const createdAt = fieldValue(rng, () => rng.pick(CREATED_ATS), ["2020-01-01", true], 0.08);
  if (createdAt !== undefined) {
    world.write(collection, id, CREATED_AT_FIELD, createdAt, hlc);
    written++;
  }
  for (const field of FIELDS[collection]!) {
    if (field.name === "id" || field.name === "createdAt" || field.name === "updatedAt" || field.kind === "refMany")
      continue;
    const value = fieldValue(rng, () => valueOf(world, rng, collection, field), [], MISSING[field.name] ?? 0.12);
    if (value === undefined) continue;
    world.write(collection, id, field.name, value, hlc);
    written++;
  }
  if (collection === "posts") {
    if (rng.chance(0.02)) {
      // A plain value in the set field (an old client storing one tag): the set reads as empty.
      const tags = world.ids("tags");
      world.write(
        "posts",
        id,
        "tagIds",
        rng.chance(0.7) && tags.length > 0 ? rng.pick(tags) : rng.pick([3, true]),
        hlc,
      );
      written++;
    } else {
      const touched = new Set<string>();
      for (let i = rng.chance(0.2) ? 0 : rng.int(1, 4); i > 0; i--) {
        const tag = rng.chance(0.93) ? rng.pick(world.ids("tags")) : rng.pick(["dangling-tag", rng.pick(world.allIds)]);
        if (touched.has(tag)) continue;
        touched.add(tag);
        world.writeElement(id, tag, true, hlc);
        written++;
      }
    }
  }
  if (written === 0) world.write(collection, id, FIELDS[collection]![3]!.name, null, hlc);
}

const SIZES: Record<Collection, number> = { users: 120, tags: 30, posts: 700, comments: 1100 };

/** Phase 1: the initial data set, targets first so refs usually find them. */
function load(world: World, rng: Rng): void {
  world.store.transact(() => {
    for (const collection of COLLECTIONS) {
      for (let i = 0; i < SIZES[collection]; i++) {
        const hlc = { ticks: (BASE_MS + rng.int(0, 40)) * TICKS_PER_MS + rng.int(0, 1023), node: rng.pick(NODES) };
        createDocument(world, rng, collection, world.freshId(), hlc);
      }
    }
  });
}

/** Later phases: re-pointed refs, set changes, updates, stale writes, deletes of targets, new documents. */
function mutate(world: World, rng: Rng, phase: number, count: number): void {
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
  for (let i = 0; i < count; i++) {
    const collection = rng.pick<Collection>(["users", "tags", "posts", "posts", "comments", "comments"]);
    const ids = world.ids(collection);
    const id = rng.pick(ids);
    const doc = world.docs[collection].get(id)!;
    const fields = FIELDS[collection]!.filter(
      (field) => !["id", "createdAt", "updatedAt", "tagIds"].includes(field.name),
    );
    const roll = rng.next();
    const run = (body: () => void) => (rng.chance(0.5) ? world.store.transact(body) : body());
    run(() => {
      if (roll < 0.07) {
        world.delete(collection, id, nextHlc());
      } else if (roll < 0.17) {
        createDocument(world, rng, collection, world.freshId(), nextHlc());
      } else if (roll < 0.32 && collection === "posts") {
        const hlc = nextHlc();
        if (rng.chance(0.05)) {
          // Toggle a plain value in the set field: one hides the members, null shows them again.
          world.write(
            "posts",
            id,
            "tagIds",
            stored(doc, "tagIds") === undefined || stored(doc, "tagIds") === null ? rng.pick(world.ids("tags")) : null,
            hlc,
          );
          return;
        }
        const touched = new Set<string>();
        for (let n = rng.int(1, 3); n > 0; n--) {
          const members = [...doc.elements].filter(([, cell]) => cell.value === true).map(([tag]) => tag);
          const removes = members.length > 0 && rng.chance(0.5);
          const tag = removes ? rng.pick(members) : rng.pick(world.ids("tags"));
          if (touched.has(tag)) continue;
          touched.add(tag);
          world.writeElement(id, tag, !removes, hlc);
        }
      } else if (roll < 0.4) {
        // A stale write: loses wherever the cell was written, wins where it never was.
        const field = rng.pick(fields);
        world.write(collection, id, field.name, valueOf(world, rng, collection, field), staleHlc());
      } else {
        const hlc = nextHlc();
        const touched = new Set<string>();
        // Refs are re-pointed more often than other fields change.
        const refs = fields.filter((field) => field.kind === "ref");
        for (let n = rng.int(1, 3); n > 0; n--) {
          const field = refs.length > 0 && rng.chance(0.4) ? rng.pick(refs) : rng.pick(fields);
          if (touched.has(field.name)) continue;
          touched.add(field.name);
          world.write(collection, id, field.name, rng.chance(0.1) ? null : valueOf(world, rng, collection, field), hlc);
        }
      }
    });
  }
}

// ---- the oracle ----

const columnsOf = (collection: string) =>
  FIELDS[collection]!.filter((field) => field.kind !== "refMany").map((field) => field.name);

function toSql(field: FieldModel, value: unknown): unknown {
  if (value === undefined) return null;
  if (field.kind === "boolean") return value ? 1 : 0;
  return value;
}

function createOracle(): { db: Database.Database; reload(world: World): void; tagsOf(post: string): string[] } {
  const db = new Database(":memory:");
  // No declared column types: SQLite keeps every value exactly as inserted (no affinity).
  for (const collection of COLLECTIONS) {
    db.exec(
      `CREATE TABLE ${collection} (${columnsOf(collection)
        .map((name) => (name === "id" ? `"id" TEXT PRIMARY KEY` : `"${name}"`))
        .join(", ")}, "createdAtOrder")`,
    );
  }
  db.exec(`CREATE TABLE post_tags (post TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (post, tag))`);
  const inserts = Object.fromEntries(
    COLLECTIONS.map((collection) => [
      collection,
      db.prepare(
        `INSERT INTO ${collection} VALUES (${columnsOf(collection)
          .map(() => "?")
          .join(", ")}, ?)`,
      ),
    ]),
  );
  const insertTag = db.prepare(`INSERT INTO post_tags VALUES (?, ?)`);
  const tagsOf = db.prepare(`SELECT tag FROM post_tags WHERE post = ? ORDER BY tag`).pluck();
  const reload = db.transaction((world: World) => {
    for (const collection of COLLECTIONS) db.exec(`DELETE FROM ${collection}`);
    db.exec("DELETE FROM post_tags");
    for (const collection of COLLECTIONS) {
      for (const doc of world.liveDocs(collection)) {
        inserts[collection]!.run([
          ...columnsOf(collection).map((name) =>
            toSql(fieldOf(collection, name), readField(doc, fieldOf(collection, name))),
          ),
          createdAtOrder(doc) ?? null,
        ]);
        if (collection === "posts")
          for (const tag of readField(doc, fieldOf("posts", "tagIds")) as string[]) insertTag.run(doc.id, tag);
      }
    }
  });
  return { db, reload, tagsOf: (post) => tagsOf.all(post) as string[] };
}

const RANGES: Operator[] = ["greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"];
const MEMBERSHIP: Operator[] = ["equals", "notEquals", "in", "notIn", "isDefined", "isUndefined"];
const OPERATORS_BY_KIND: Record<Kind, Operator[]> = {
  string: [...MEMBERSHIP, "contains", "startsWith", "endsWith", ...RANGES],
  ref: [...MEMBERSHIP, "startsWith", ...RANGES],
  number: [...MEMBERSHIP, ...RANGES],
  date: [...MEMBERSHIP, ...RANGES],
  boolean: MEMBERSHIP,
  refMany: MEMBERSHIP,
};

/** A field of the row aliased `alias` (the nested collection's `c` unless in a filter) in SQL; posts.tagIds through post_tags. */
function sqlField(field: FieldModel, alias = "c"): SqlField {
  if (field.kind !== "refMany") return { column: `${alias}."${field.name}"` };
  const m = `m_${alias}`;
  return {
    column: "",
    set: {
      exists: (test) => `EXISTS (SELECT 1 FROM post_tags ${m} WHERE ${m}.post = ${alias}.id${test})`,
      member: `${m}.tag`,
    },
  };
}

// ---- random relation queries, with their SQL plan ----

/** One level of a query: what SQL filters, orders and limits, and the relations below it. */
interface PlanNode {
  readonly collection: Collection;
  readonly select: readonly string[];
  readonly where: readonly string[];
  readonly params: readonly unknown[];
  readonly order: string;
  readonly limit: number | undefined;
  readonly relations: ReadonlyArray<{ readonly model: RelationModel; readonly link: string; readonly node: PlanNode }>;
}

interface GeneratedQuery {
  readonly collection: Collection;
  readonly query: Record<string, unknown>;
  readonly plan: PlanNode;
}

function createQueryGenerator(world: World, rng: Rng, coverage: Map<string, number>) {
  const cover = (key: string) => coverage.set(key, (coverage.get(key) ?? 0) + 1);
  const turns = new Map<Kind, number>();

  /** A value of the field that occurs in the data (usually), or one from the pools. */
  const sampleOf = (collection: Collection, field: FieldModel): unknown => {
    if (field.kind === "refMany") return rng.chance(0.9) ? rng.pick(world.ids("tags")) : "no-such-tag";
    if (field.kind === "boolean") return rng.chance(0.5);
    const docs = world.liveDocs(collection);
    let value = rng.chance(0.8) && docs.length > 0 ? readField(rng.pick(docs), field) : undefined;
    if (value === undefined) {
      value =
        field.kind === "number"
          ? rng.pick(NUMBERS)
          : field.kind === "date"
            ? rng.pick([...DATES, ...CREATED_ATS])
            : field.kind === "ref" || field.name === "id"
              ? rng.pick(world.allIds)
              : rng.pick(STRINGS);
    }
    if (field.kind === "number" && rng.chance(0.15)) value = (value as number) + rng.pick([-0.5, 0.5]);
    if (field.kind === "date" && rng.chance(0.15)) value = (value as number) + rng.pick([-1, 1]);
    return field.kind === "date" ? new Date(value as number) : value;
  };

  const operandOf = (collection: Collection, field: FieldModel, op: Operator): unknown => {
    switch (op) {
      case "isDefined":
      case "isUndefined":
        return rng.chance(0.8);
      case "contains":
      case "startsWith":
      case "endsWith": {
        const text = String(sampleOf(collection, field) ?? "");
        const start = op === "startsWith" ? 0 : rng.int(0, text.length);
        return text.slice(start, op === "endsWith" ? text.length : rng.int(start, text.length));
      }
      case "in":
      case "notIn":
        return Array.from({ length: rng.int(0, 4) }, () => sampleOf(collection, field));
      default:
        return sampleOf(collection, field);
    }
  };

  let aliases = 0;
  /**
   * A relational filter on rows aliased `alias`: a relation of the collection, a nested `where`,
   * and the EXISTS subquery SQL answers it with.
   */
  const relationalFilter = (
    collection: Collection,
    alias: string,
    depth: number,
    params: unknown[],
  ): { key: string; filter: Record<string, unknown>; sql: string } | undefined => {
    const available = RELATIONS.filter((relation) => relation.from === collection);
    if (available.length === 0) return undefined;
    const model = rng.pick(available);
    let link = model.link;
    const filter: Record<string, unknown> = {};
    if (model.direction === "reverse" && (model.needsVia || rng.chance(0.2))) {
      link = rng.pick([model.link, ...(model.alternatives ?? [])]);
      filter.via = link;
    }
    const child = `f${++aliases}`;
    let from: string;
    if (model.direction === "forward" && model.cardinality === "one")
      from = `${model.to} ${child} WHERE ${child}.id = ${alias}."${link}"`;
    else if (model.direction === "forward")
      from = `post_tags j${child} JOIN ${model.to} ${child} ON ${child}.id = j${child}.tag WHERE j${child}.post = ${alias}.id`;
    else if (link === "tagIds")
      from = `post_tags j${child} JOIN ${model.to} ${child} ON ${child}.id = j${child}.post WHERE j${child}.tag = ${alias}.id`;
    else from = `${model.to} ${child} WHERE ${child}."${link}" = ${alias}.id`;
    const clauses: string[] = [];
    // Often empty (the link exists at all), else one or two conditions, now and then a filter again.
    filter.where = whereOf(model.to, rng.chance(0.25) ? 0 : 2, params, clauses, child, depth + 1);
    const kind =
      model.direction === "forward"
        ? `forward ${model.cardinality}`
        : link === "tagIds"
          ? "reverse via refMany"
          : "reverse via ref";
    cover(`filter ${kind}`);
    if (depth > 0) cover("filter nested");
    return {
      key: model.name,
      filter,
      sql: `EXISTS (SELECT 1 FROM ${from}${clauses.map((clause) => ` AND ${clause}`).join("")})`,
    };
  };

  const whereOf = (
    collection: Collection,
    maxConditions: number,
    params: unknown[],
    clauses: string[],
    alias = "c",
    filterDepth = 0,
  ): Record<string, unknown> => {
    const where: Record<string, unknown> = {};
    for (let i = rng.int(0, maxConditions); i > 0; i--) {
      if (filterDepth < 3 && rng.chance(filterDepth === 0 ? 0.3 : 0.15)) {
        const negated = rng.chance(0.25);
        // Its parameters join the others only if it is used.
        const own: unknown[] = [];
        const related = relationalFilter(collection, alias, filterDepth, own);
        if (related === undefined || Object.hasOwn(where, negated ? "not" : related.key)) continue;
        if (negated) {
          where.not = { [related.key]: related.filter };
          clauses.push(`NOT ${related.sql}`);
          cover("filter negated");
        } else {
          where[related.key] = related.filter;
          clauses.push(related.sql);
        }
        params.push(...own);
        continue;
      }
      const field = rng.pick(FIELDS[collection]!);
      if (Object.hasOwn(where, field.name)) continue;
      if (rng.chance(0.2)) {
        const operand = sampleOf(collection, field);
        where[field.name] = operand; // a bare value means equals
        clauses.push(conditionSql(sqlField(field, alias), "equals", operand, params));
        continue;
      }
      // Operators of each kind of field take turns, so every one comes up under any seed.
      const operators = OPERATORS_BY_KIND[field.kind];
      const turn = turns.get(field.kind) ?? rng.int(0, operators.length - 1);
      turns.set(field.kind, turn + 1);
      const op = operators[turn % operators.length]!;
      const operand = operandOf(collection, field, op);
      where[field.name] = { [op]: operand };
      clauses.push(conditionSql(sqlField(field, alias), op, operand, params));
      cover(`where ${field.kind} ${op}`);
    }
    return where;
  };

  const node = (
    collection: Collection,
    depth: number,
    isMany: boolean,
  ): { query: Record<string, unknown>; plan: PlanNode } => {
    const fields: Record<string, unknown> = {};
    const relations: Array<PlanNode["relations"][number]> = [];
    // Relations: at least one at the root, then fewer the deeper (two levels often, three now and then).
    const available = RELATIONS.filter((relation) => relation.from === collection);
    const relationCount =
      depth === 0 ? rng.int(1, 2) : depth === 1 ? (rng.chance(0.45) ? 1 : 0) : rng.chance(0.12) ? 1 : 0;
    for (let i = 0; i < relationCount; i++) {
      const model = rng.pick(available);
      if (Object.hasOwn(fields, model.name)) continue;
      const child = node(model.to, depth + 1, model.cardinality === "many");
      let link = model.link;
      if (model.needsVia || rng.chance(0.2)) {
        if (model.direction === "reverse") {
          link = rng.pick([model.link, ...(model.alternatives ?? [])]);
          child.query.via = link;
        }
      }
      fields[model.name] = child.query;
      relations.push({ model, link, node: child.plan });
      const kind =
        model.direction === "forward"
          ? `forward ${model.cardinality}`
          : model.link === "tagIds"
            ? "reverse via refMany"
            : "reverse via ref";
      cover(kind);
      cover(`depth ${depth + 1}`);
      if (child.plan.where.length > 0) cover(`${kind} with where`);
      if (child.plan.limit !== undefined) cover(`${kind} with limit`);
      if (child.plan.order !== `c.id ASC`) cover(`${kind} with orderBy`);
    }
    // Plain fields (never a relation's key twice).
    for (const field of FIELDS[collection]!) {
      if (Object.hasOwn(fields, field.name)) continue;
      if (rng.chance(0.35)) fields[field.name] = true;
    }
    const select = Object.keys(fields).filter((name) => fields[name] === true);
    const params: unknown[] = [];
    const clauses: string[] = [];
    const where = whereOf(collection, depth === 0 ? 2 : rng.chance(0.6) ? 2 : 0, params, clauses);
    const orderBy: Array<[string, "asc" | "desc"]> = [];
    if (isMany || depth === 0 || rng.chance(0.2)) {
      for (let n = rng.pick([0, 1, 1, 2]); n > 0; n--) {
        const field = rng.pick(FIELDS[collection]!.filter((each) => each.kind !== "refMany")).name;
        if (!orderBy.some(([name]) => name === field)) orderBy.push([field, rng.chance(0.5) ? "asc" : "desc"]);
      }
    }
    let limit: number | undefined;
    if (depth === 0) limit = rng.chance(0.3) ? undefined : rng.pick([1, 5, 20, 60]);
    else if (isMany) limit = rng.chance(0.5) ? undefined : rng.pick([0, 1, 2, 3, 5]);
    else limit = rng.chance(0.15) ? rng.pick([0, 1, 2]) : undefined;

    const query: Record<string, unknown> = { fields };
    if (Object.keys(where).length > 0 || rng.chance(0.2)) query.where = where;
    if (orderBy.length === 1 && rng.chance(0.5)) query.orderBy = orderBy[0];
    else if (orderBy.length > 0) query.orderBy = orderBy;
    if (limit !== undefined) query.limit = limit;
    const order = [
      ...orderBy.map(
        ([name, direction]) => `c."${name === "createdAt" ? "createdAtOrder" : name}" ${direction.toUpperCase()}`,
      ),
      `c.id ASC`,
    ].join(", ");
    return { query, plan: { collection, select, where: clauses, params, order, limit, relations } };
  };

  return (): GeneratedQuery => {
    const collection = rng.pick(COLLECTIONS);
    const { query, plan } = node(collection, 0, true);
    return { collection, query, plan };
  };
}

/** Runs a plan in SQLite: the root rows, and each relation as one ranked join over all parents. */
function evaluate(oracle: ReturnType<typeof createOracle>, plan: PlanNode): Array<Record<string, unknown>> {
  const whereSql = (node: PlanNode) => (node.where.length > 0 ? ` AND ${node.where.join(" AND ")}` : "");
  const rootSql = `SELECT c.* FROM ${plan.collection} c WHERE 1${whereSql(plan)} ORDER BY ${plan.order}${plan.limit !== undefined ? " LIMIT ?" : ""}`;
  const rootParams = plan.limit !== undefined ? [...plan.params, plan.limit] : plan.params;
  const roots = oracle.db.prepare(rootSql).all(...(rootParams as never[])) as Array<Record<string, unknown>>;

  const childrenOf = new Map<PlanNode, Map<string, Array<Record<string, unknown>>>>();
  const related = (parent: PlanNode, relation: PlanNode["relations"][number]) => {
    let byParent = childrenOf.get(relation.node);
    if (byParent !== undefined) return byParent;
    const { model, link, node } = relation;
    let from: string;
    if (model.direction === "forward" && model.cardinality === "one") {
      from = `${parent.collection} p JOIN ${node.collection} c ON c.id = p."${link}"`;
    } else if (model.direction === "forward") {
      from = `post_tags j JOIN ${parent.collection} p ON p.id = j.post JOIN ${node.collection} c ON c.id = j.tag`;
    } else if (link === "tagIds") {
      from = `post_tags j JOIN ${parent.collection} p ON p.id = j.tag JOIN ${node.collection} c ON c.id = j.post`;
    } else {
      from = `${node.collection} c JOIN ${parent.collection} p ON p.id = c."${link}"`;
    }
    const ranked = `SELECT p.id AS __parent, c.*, ROW_NUMBER() OVER (PARTITION BY p.id ORDER BY ${node.order}) AS __rank FROM ${from} WHERE 1${whereSql(node)}`;
    const sql = `SELECT * FROM (${ranked})${node.limit !== undefined ? " WHERE __rank <= ?" : ""} ORDER BY __parent, __rank`;
    const params = node.limit !== undefined ? [...node.params, node.limit] : node.params;
    byParent = new Map();
    for (const row of oracle.db.prepare(sql).all(...(params as never[])) as Array<Record<string, unknown>>) {
      const parentId = row.__parent as string;
      let list = byParent.get(parentId);
      if (list === undefined) byParent.set(parentId, (list = []));
      list.push(row);
    }
    childrenOf.set(relation.node, byParent);
    return byParent;
  };

  const build = (node: PlanNode, row: Record<string, unknown>): Record<string, unknown> => {
    const doc: Record<string, unknown> = {};
    for (const name of node.select) {
      const field = fieldOf(node.collection, name);
      const value = field.kind === "refMany" ? oracle.tagsOf(row.id as string) : row[name];
      doc[name] =
        value === null
          ? undefined
          : field.kind === "boolean"
            ? value === 1
            : field.kind === "date"
              ? new Date(value as number)
              : value;
    }
    for (const relation of node.relations) {
      const children = related(node, relation).get(row.id as string) ?? [];
      doc[relation.model.name] =
        relation.model.cardinality === "one"
          ? children[0] === undefined
            ? undefined
            : build(relation.node, children[0])
          : children.map((child) => build(relation.node, child));
    }
    return doc;
  };
  return roots.map((row) => build(plan, row));
}

// ---- comparison ----

/** A result in canonical form: Dates as ms, -0 as 0, undefined spelled out, keys sorted. */
function canonical(value: unknown): unknown {
  if (value === undefined) return "<undefined>";
  if (value instanceof Date) return { $date: value.getTime() };
  if (typeof value === "number") return value === 0 ? 0 : value;
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/** Where two canonical values first differ, as a path with both sides. */
function firstDifference(a: unknown, b: unknown, path = "result"): string | undefined {
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const difference = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (difference !== undefined) return difference;
    }
  } else if (
    typeof a === "object" &&
    typeof b === "object" &&
    a !== null &&
    b !== null &&
    !Array.isArray(a) &&
    !Array.isArray(b)
  ) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const difference = firstDifference(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        `${path}.${key}`,
      );
      if (difference !== undefined) return difference;
    }
  }
  return `${path}: sqlite ${JSON.stringify(a)?.slice(0, 400)}\n    engine ${JSON.stringify(b)?.slice(0, 400)}`;
}

/** A query as text, with Dates spelled out so a failure can be replayed by hand. */
function describeQuery(query: unknown): string {
  return JSON.stringify(query, function (this: Record<string, unknown>, key, value) {
    const raw = this[key];
    return raw instanceof Date ? `Date(${raw.getTime()})` : value;
  });
}

interface Stats {
  /** Relation values (one per parent document and relation) compared. */
  relationValues: number;
  /** Of those, the ones holding at least one document. */
  nonEmpty: number;
}

function countRelations(plan: PlanNode, docs: ReadonlyArray<Record<string, unknown>>, stats: Stats): void {
  for (const relation of plan.relations) {
    for (const doc of docs) {
      const value = doc[relation.model.name];
      const children = value === undefined ? [] : Array.isArray(value) ? value : [value];
      stats.relationValues++;
      if (children.length > 0) stats.nonEmpty++;
      countRelations(relation.node, children as Array<Record<string, unknown>>, stats);
    }
  }
}

/** A query kept live from an earlier phase: after later writes it must still equal SQL. */
interface KeptQuery {
  readonly label: string;
  readonly query: Record<string, unknown>;
  readonly plan: PlanNode;
  readonly live: LiveQuery;
}

function runPhase(
  label: string,
  world: World,
  oracle: ReturnType<typeof createOracle>,
  nextQuery: ReturnType<typeof createQueryGenerator>,
  count: number,
  mismatches: string[],
  stats: Stats,
  kept: { readonly registry: LiveQueryRegistry; readonly queries: KeptQuery[]; readonly more: number },
): void {
  oracle.reload(world);
  for (const collection of COLLECTIONS) {
    expect(world.store.table(collection)!.liveCount, `${label}: live ${collection} in the store`).toBe(
      world.liveDocs(collection).length,
    );
  }
  // Live queries made in earlier phases followed the writes since, incrementally.
  for (const each of kept.queries) {
    const difference = firstDifference(canonical(evaluate(oracle, each.plan)), canonical(each.live.result.value));
    if (difference !== undefined) {
      mismatches.push(
        `${label}: live query from ${each.label}: ${describeQuery(each.query)}\n  first difference at ${difference}`,
      );
    }
  }
  for (let i = 0; i < count; i++) {
    const { collection, query, plan } = nextQuery();
    const normalized = normalizeQuery(schema.collections[collection]!, query, schema.collections);
    if (normalized.error) {
      mismatches.push(
        `${label} query #${i} on ${collection} was rejected: ${normalized.error.message}\n  query: ${describeQuery(query)}`,
      );
      continue;
    }
    const table = world.store.table(collection)!;
    const materialize = compileMaterializer(normalized.data, world.store);
    const actual = runQuery(world.store, normalized.data).map((row) => materialize(table, row));
    const expected = evaluate(oracle, plan);
    countRelations(plan, expected, stats);
    const difference = firstDifference(canonical(expected), canonical(actual));
    if (difference !== undefined) {
      mismatches.push(
        `${label} query #${i} on ${collection}: ${describeQuery(query)}\n  first difference at ${difference}`,
      );
    }
    if (i < kept.more)
      kept.queries.push({ label: `${label} query #${i}`, query, plan, live: kept.registry.acquire(normalized.data) });
  }
}

describe("relations against SQLite joins", () => {
  const oracle = createOracle();
  afterAll(() => oracle.db.close());

  it("returns the same documents, order and nested contents as SQL joins for random relation queries", () => {
    const seed = lawSeed();
    const rng = createRng(seed);
    const world = new World(rng);
    const coverage = new Map<string, number>();
    const nextQuery = createQueryGenerator(world, rng, coverage);
    const mismatches: string[] = [];
    const stats: Stats = { relationValues: 0, nonEmpty: 0 };

    const registry = new LiveQueryRegistry(world.store);
    const kept = { registry, queries: [] as KeptQuery[], more: 40 };

    load(world, rng);
    runPhase("phase 1 (initial load)", world, oracle, nextQuery, 120, mismatches, stats, kept);
    // Indexes and live queries now exist; re-point refs, change sets, delete targets (all in one
    // commit, then one commit per write), and ask again.
    world.store.transact(() => mutate(world, rng, 1, 700));
    runPhase("phase 2 (after re-pointing and deletes)", world, oracle, nextQuery, 100, mismatches, stats, kept);
    mutate(world, rng, 2, 700);
    runPhase("phase 3 (after more changes)", world, oracle, nextQuery, 100, mismatches, stats, { ...kept, more: 0 });
    registry.dispose();

    if (mismatches.length > 0) {
      expect.fail(
        `${reproduce(seed)}\n${mismatches.length} results differ from SQLite (of 320 one-shot queries and 120 checks of live ones); the first ones:\n\n${mismatches.slice(0, 5).join("\n\n")}`,
      );
    }
    // Guard against a vacuous comparison: relations must mostly find something.
    expect(stats.nonEmpty, `${reproduce(seed)}: non-empty relation values`).toBeGreaterThan(
      stats.relationValues * 0.25,
    );
    const expectedKeys = [
      ...["forward one", "forward many", "reverse via ref", "reverse via refMany"].flatMap((kind) => [
        kind,
        `${kind} with where`,
        `${kind} with limit`,
      ]),
      ...["forward many", "reverse via ref", "reverse via refMany"].map((kind) => `${kind} with orderBy`),
      "depth 1",
      "depth 2",
      "depth 3",
      ...["forward one", "forward many", "reverse via ref", "reverse via refMany", "nested", "negated"].map(
        (kind) => `filter ${kind}`,
      ),
      ...(["string", "ref", "number", "date", "boolean", "refMany"] as const).flatMap((kind) =>
        ["notEquals", "in", "notIn", "isUndefined"].map((op) => `where ${kind} ${op}`),
      ),
    ];
    const missing = expectedKeys.filter((key) => (coverage.get(key) ?? 0) === 0);
    expect(missing, `${reproduce(seed)}: query shapes the generator never produced`).toEqual([]);
  });
});
