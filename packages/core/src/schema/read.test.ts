import { describe, expect, it } from "vitest";
import { type Hlc, TICKS_PER_MS } from "../hlc.js";
import { compileMaterializer } from "../query/materialize.js";
import { normalizeQuery } from "../query/normalize.js";
import { runQuery } from "../query/run-query.js";
import { TripleStore } from "../store/triple-store.js";
import { CREATED_AT_FIELD } from "../triples.js";
import { createSchema } from "./create-schema.js";
import type { FieldSpec } from "./field.js";
import { hasStoredType, readStored, toUserValue } from "./read.js";
import { t } from "./t.js";

const CREATED = 1_700_000_000_000;

const spec = (type: FieldSpec["type"], extra: Partial<FieldSpec> = {}): FieldSpec => ({
  type,
  optional: true,
  ...extra,
});

describe("readStored", () => {
  it("reads a stored value of the right type as itself", () => {
    expect(readStored(spec("string", { fallback: "" }), "Ada", undefined)).toBe("Ada");
    expect(readStored(spec("number", { fallback: 0 }), 0, undefined)).toBe(0);
    expect(readStored(spec("boolean", { fallback: true }), false, undefined)).toBe(false);
    expect(readStored(spec("date", { fallback: 5 }), 10, undefined)).toBe(10);
    expect(readStored(spec("ref"), "u1", undefined)).toBe("u1");
    expect(readStored(spec("refMany"), ["a", "b"], undefined)).toEqual(["a", "b"]);
    expect(readStored(spec("json"), { a: 1 }, undefined)).toEqual({ a: 1 });
    expect(readStored(spec("json"), false, undefined)).toBe(false);
    expect(readStored(spec("json"), 0, undefined)).toBe(0);
  });

  it("reads a missing value as the fallback, or undefined without one", () => {
    expect(readStored(spec("string", { fallback: "none" }), undefined, undefined)).toBe("none");
    expect(readStored(spec("number", { fallback: 7 }), undefined, undefined)).toBe(7);
    expect(readStored(spec("boolean", { fallback: false }), undefined, undefined)).toBe(false);
    expect(readStored(spec("date", { fallback: 123 }), undefined, undefined)).toBe(123);
    expect(readStored(spec("json", { fallback: { theme: "light" } }), undefined, undefined)).toEqual({
      theme: "light",
    });
    expect(readStored(spec("string"), undefined, undefined)).toBeUndefined();
    expect(readStored(spec("ref"), undefined, undefined)).toBeUndefined();
  });

  it.each([
    ["string", 5, "fb"],
    ["string", true, "fb"],
    ["number", "5", 1],
    ["number", Number.NaN, 1],
    ["number", Number.POSITIVE_INFINITY, 1],
    ["boolean", "true", true],
    ["boolean", 1, true],
    ["date", "2024-01-01", 99],
    ["date", Number.NaN, 99],
    ["date", { ms: 1 }, 99],
  ] as const)("reads a %s field storing %o (wrong type) as its fallback", (type, stored, fallback) => {
    expect(readStored(spec(type, { fallback }), stored, undefined)).toBe(fallback);
    expect(readStored(spec(type), stored, undefined)).toBeUndefined();
  });

  it("reads a ref storing a non-string as undefined", () => {
    expect(readStored(spec("ref"), 42, undefined)).toBeUndefined();
    expect(readStored(spec("ref"), ["u1"], undefined)).toBeUndefined();
  });

  it("reads a refMany that is empty, missing or of the wrong type as []", () => {
    for (const stored of [undefined, [], "u1", 3, { a: 1 }]) {
      const value = readStored(spec("refMany"), stored, undefined);
      expect(value).toEqual([]);
    }
  });

  it("reads JSON null as missing (then the fallback)", () => {
    expect(readStored(spec("json"), null, undefined)).toBeUndefined();
    expect(readStored(spec("json", { fallback: [] }), null, undefined)).toEqual([]);
  });

  it('reads a date with fallback "now" as the creation time when missing or invalid', () => {
    const now = spec("date", { optional: false, fallback: "now" });
    expect(readStored(now, undefined, CREATED)).toBe(CREATED);
    expect(readStored(now, "yesterday", CREATED)).toBe(CREATED);
    expect(readStored(now, 42, CREATED)).toBe(42);
    expect(readStored(now, undefined, undefined)).toBeUndefined();
  });

  it('ignores the creation time for fallbacks other than "now"', () => {
    expect(readStored(spec("date", { fallback: 1 }), undefined, CREATED)).toBe(1);
    expect(readStored(spec("string", { fallback: "now" }), undefined, CREATED)).toBe("now");
  });
});

describe("hasStoredType", () => {
  it("accepts only finite numbers for numbers and dates", () => {
    expect(hasStoredType(spec("number"), -0)).toBe(true);
    expect(hasStoredType(spec("date"), Number.NEGATIVE_INFINITY)).toBe(false);
  });

  it("treats an empty refMany as not stored", () => {
    expect(hasStoredType(spec("refMany"), [])).toBe(false);
    expect(hasStoredType(spec("refMany"), ["a"])).toBe(true);
  });
});

describe("toUserValue", () => {
  it("turns epoch milliseconds into Dates", () => {
    const value = toUserValue(spec("date"), 1_000);
    expect(value).toBeInstanceOf(Date);
    expect((value as Date).getTime()).toBe(1_000);
  });

  it("returns copies of sets and JSON values, so callers cannot mutate the store", () => {
    const members = ["a", "b"];
    const set = toUserValue(spec("refMany"), members) as string[];
    expect(set).toEqual(members);
    expect(set).not.toBe(members);
    const json = { a: [1] };
    const copy = toUserValue(spec("json"), json) as { a: number[] };
    expect(copy).toEqual(json);
    expect(copy).not.toBe(json);
    expect(copy.a).not.toBe(json.a);
  });

  it("keeps undefined and primitives as they are", () => {
    expect(toUserValue(spec("date"), undefined)).toBeUndefined();
    expect(toUserValue(spec("json"), "x")).toBe("x");
    expect(toUserValue(spec("string"), "s")).toBe("s");
  });
});

describe("read rules through the query engine", () => {
  const schema = createSchema({
    entities: {
      items: {
        title: t.string({ fallback: "untitled" }),
        count: t.number({ fallback: 0 }),
        rank: t.number({ optional: true }),
        isDone: t.boolean({ fallback: false }),
        dueAt: t.date({ fallback: "now" }),
        meta: t.json({ optional: true }),
        ownerId: t.ref("items"),
        tagIds: t.refMany("items"),
      },
    },
  });
  const items = schema.collections.items!;
  const hlc = (ms: number, node = "writer"): Hlc => ({ ticks: ms * TICKS_PER_MS, node });

  function readAll(store: TripleStore): Record<string, unknown>[] {
    const query = normalizeQuery(items, {
      fields: {
        id: true,
        title: true,
        count: true,
        rank: true,
        isDone: true,
        dueAt: true,
        meta: true,
        ownerId: true,
        tagIds: true,
      },
    });
    expect(query.error).toBeUndefined();
    const table = store.table("items")!;
    const materialize = compileMaterializer(query.data!);
    return runQuery(store, query.data!).map((row) => materialize(table, row));
  }

  it("reads stored values of the wrong type (an older or newer schema) as the fallback or undefined", () => {
    const store = new TripleStore();
    store.transact(() => {
      store.setField("items", "a", CREATED_AT_FIELD, CREATED, hlc(CREATED));
      store.setField("items", "a", "title", 12, hlc(CREATED));
      store.setField("items", "a", "count", "many", hlc(CREATED));
      store.setField("items", "a", "rank", "first", hlc(CREATED));
      store.setField("items", "a", "isDone", "yes", hlc(CREATED));
      store.setField("items", "a", "dueAt", "tomorrow", hlc(CREATED));
      store.setField("items", "a", "ownerId", 7, hlc(CREATED));
      store.setField("items", "a", "unknownField", "ignored", hlc(CREATED));
    });
    const [doc] = readAll(store);
    expect(doc).toEqual({
      id: "a",
      title: "untitled",
      count: 0,
      rank: undefined,
      isDone: false,
      dueAt: new Date(CREATED),
      meta: undefined,
      ownerId: undefined,
      tagIds: [],
    });
  });

  it("reads missing fields as their fallback and a missing refMany as []", () => {
    const store = new TripleStore();
    store.setField("items", "b", CREATED_AT_FIELD, CREATED + 1, hlc(CREATED + 1));
    const [doc] = readAll(store);
    expect(doc).toEqual({
      id: "b",
      title: "untitled",
      count: 0,
      rank: undefined,
      isDone: false,
      dueAt: new Date(CREATED + 1),
      meta: undefined,
      ownerId: undefined,
      tagIds: [],
    });
  });

  it("reads a refMany whose members were all removed as []", () => {
    const store = new TripleStore();
    store.transact(() => {
      store.setField("items", "c", CREATED_AT_FIELD, CREATED, hlc(CREATED));
      store.setElement("items", "c", "tagIds", "x", true, hlc(CREATED));
    });
    expect(readAll(store)[0]!.tagIds).toEqual(["x"]);
    store.setElement("items", "c", "tagIds", "x", false, hlc(CREATED + 1));
    expect(readAll(store)[0]!.tagIds).toEqual([]);
  });

  it("filters and sorts on values as read, after fallbacks", () => {
    const store = new TripleStore();
    store.transact(() => {
      store.setField("items", "a", "count", "bad", hlc(CREATED));
      store.setField("items", "b", "count", 5, hlc(CREATED));
      store.setField("items", "c", "count", -1, hlc(CREATED));
    });
    const query = normalizeQuery(items, { where: { count: 0 } });
    const table = store.table("items")!;
    expect(runQuery(store, query.data!).map((row) => table.idOf(row))).toEqual(["a"]);
    const sorted = normalizeQuery(items, { orderBy: ["count", "asc"] });
    expect(runQuery(store, sorted.data!).map((row) => table.idOf(row))).toEqual(["c", "a", "b"]);
  });
});
