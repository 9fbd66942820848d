import { describe, expect, it } from "vitest";
import { createSchema } from "./create-schema.js";
import { t } from "./t.js";
import { describe as describeValue, type StoredFields, validateRoomValue, validateWrite } from "./validate.js";

const NOW = 1_700_000_000_000;

const schema = createSchema({
  entities: {
    users: {
      name: t.string({ fallback: "" }),
      age: t.number({ optional: true }),
      isAdult: t.boolean({ fallback: false }),
      lastLogin: t.date({ optional: true }),
      joinedAt: t.date({ fallback: "now" }),
      prefs: t.json({ optional: true }),
      nickname: t.string({ optional: true, fallback: "anon" }),
      bestFriendId: t.ref("users"),
      friendIds: t.refMany("users"),
    },
  },
});
const users = schema.collections.users!;

/** The stored fields of a write that must succeed. */
function stored(input: unknown, mode: "create" | "update" | "replace" = "update"): Record<string, unknown> {
  const result = validateWrite(users, input, mode, NOW);
  expect(result.error).toBeUndefined();
  return Object.fromEntries(result.data as StoredFields);
}

/** The error of a write that must fail; checks it names the field. */
function rejected(input: unknown, mode: "create" | "update" | "replace", field: string) {
  const result = validateWrite(users, input, mode, NOW);
  expect(result.data).toBeUndefined();
  expect(result.error?.code).toBe("VALIDATION");
  expect(result.error?.details).toEqual({ collection: "users", field });
  expect(result.error?.message).toContain(`users.${field}`);
  return result.error!;
}

describe("validateWrite", () => {
  describe("types", () => {
    it("accepts values of each field's type in stored form", () => {
      const login = new Date(NOW - 5_000);
      expect(
        stored({
          name: "Ada",
          age: 36,
          isAdult: true,
          lastLogin: login,
          prefs: { theme: "dark", sizes: [1, 2], on: null },
          nickname: "ada",
          bestFriendId: "u2",
          friendIds: ["u2", "u3"],
        }),
      ).toEqual({
        name: "Ada",
        age: 36,
        isAdult: true,
        lastLogin: NOW - 5_000,
        prefs: { theme: "dark", sizes: [1, 2], on: null },
        nickname: "ada",
        bestFriendId: "u2",
        friendIds: ["u2", "u3"],
      });
    });

    it.each([
      ["name", 1],
      ["name", null],
      ["name", new String("Ada")],
      ["age", "36"],
      ["age", Number.NaN],
      ["age", Number.POSITIVE_INFINITY],
      ["age", 10n],
      ["isAdult", "true"],
      ["isAdult", 0],
      ["lastLogin", NOW],
      ["lastLogin", "2024-01-01"],
      ["lastLogin", new Date("not a date")],
      ["lastLogin", { getTime: (): number => NOW }],
    ])("rejects %s = %o", (field, value) => {
      const error = rejected({ [field]: value }, "update", field);
      expect(error.message).toMatch(/expects/);
    });

    it("describes the bad value and the expected type in the message", () => {
      expect(rejected({ age: "36" }, "update", "age").message).toBe(
        'users.age expects a finite number, got the string "36".',
      );
      expect(rejected({ lastLogin: 5 }, "update", "lastLogin").message).toContain("a valid Date");
    });

    it("stores dates as epoch milliseconds", () => {
      expect(stored({ lastLogin: new Date(0) })).toEqual({ lastLogin: 0 });
    });

    it("rejects fields that are not an object", () => {
      for (const input of [null, undefined, "Ada", 1, ["name"], new Date()]) {
        const result = validateWrite(users, input, "update", NOW);
        expect(result.error?.code).toBe("VALIDATION");
        expect(result.error?.message).toContain("users: fields must be an object");
      }
    });
  });

  describe("required fields", () => {
    it("requires every required field on create", () => {
      rejected({ isAdult: true }, "create", "name");
      rejected({ name: "Ada" }, "create", "isAdult");
      expect(rejected({ isAdult: true }, "create", "name").message).toBe("users.name is required.");
    });

    it("requires every required field on replace", () => {
      rejected({ isAdult: true }, "replace", "name");
      rejected({ name: "Ada" }, "replace", "isAdult");
    });

    it("treats a required field given as undefined as missing", () => {
      rejected({ name: undefined, isAdult: true }, "create", "name");
      rejected({ name: undefined, isAdult: true }, "replace", "name");
    });

    it("needs no required field on update, but refuses to remove one", () => {
      expect(stored({ age: 3 }, "update")).toEqual({ age: 3 });
      const error = rejected({ name: undefined }, "update", "name");
      expect(error.message).toContain("cannot be removed");
    });

    it("does not require optional fields, refs or refMany on create", () => {
      expect(stored({ name: "Ada", isAdult: false }, "create")).toEqual({ name: "Ada", isAdult: false, joinedAt: NOW });
    });
  });

  it("rejects unknown fields", () => {
    const error = rejected({ name: "Ada", email: "ada@example.com" }, "update", "email");
    expect(error.message).toContain("not in the schema");
    rejected({ toString: "x" }, "update", "toString");
    rejected(JSON.parse('{"__proto__": "x"}'), "update", "__proto__");
  });

  it.each(["id", "createdAt", "updatedAt", "createdBy"])("rejects the read-only auto field %s", (field) => {
    for (const mode of ["create", "update", "replace"] as const) {
      const error = rejected({ name: "Ada", isAdult: true, [field]: field === "id" ? "x" : new Date() }, mode, field);
      expect(error.message).toContain("read-only");
    }
  });

  describe("refs", () => {
    it("accepts only non-empty id strings for a ref", () => {
      expect(stored({ bestFriendId: "u1" })).toEqual({ bestFriendId: "u1" });
      for (const value of [1, "", { id: "u1" }, ["u1"], null])
        rejected({ bestFriendId: value }, "update", "bestFriendId");
    });

    it("accepts only arrays of non-empty id strings for a refMany", () => {
      for (const value of ["u1", [1], ["u1", ""], [null], new Set(["u1"]), null])
        rejected({ friendIds: value }, "update", "friendIds");
    });

    it("deduplicates refMany arrays, keeping first-seen order", () => {
      expect(stored({ friendIds: ["b", "a", "b", "c", "a"] })).toEqual({ friendIds: ["b", "a", "c"] });
    });

    it("accepts an empty refMany array (clears the set)", () => {
      expect(stored({ friendIds: [] })).toEqual({ friendIds: [] });
    });

    it("names the target entity in ref errors", () => {
      expect(rejected({ bestFriendId: 3 }, "update", "bestFriendId").message).toContain("a ref to users");
    });
  });

  describe("json", () => {
    it("accepts plain JSON values", () => {
      for (const value of [
        "s",
        0,
        -1.5,
        true,
        false,
        [],
        {},
        [1, "a", null, { b: [true] }],
        { a: { b: { c: null } } },
      ]) {
        expect(stored({ prefs: value })).toEqual({ prefs: value });
      }
    });

    it("stores a copy, so later changes to the input do not leak in", () => {
      const prefs = { theme: "dark", list: [1] };
      const fields = stored({ prefs });
      prefs.list.push(2);
      prefs.theme = "light";
      expect(fields.prefs).toEqual({ theme: "dark", list: [1] });
    });

    it.each([
      ["a function", () => 1],
      ["a nested function", { onChange: () => {} }],
      [
        "a class instance",
        new (class Point {
          x = 1;
        })(),
      ],
      ["a Date", new Date(0)],
      ["a Map", new Map([["a", 1]])],
      ["NaN", Number.NaN],
      ["a nested NaN", { ratio: Number.NaN }],
      ["Infinity in an array", [1, Number.POSITIVE_INFINITY]],
      ["undefined in an array", [1, undefined]],
      ["a nested undefined value", { a: undefined }],
      ["a symbol", Symbol("s")],
      ["a bigint", 1n],
      ["an object without prototype", Object.create(null) as object],
    ])("rejects %s", (_label, value) => {
      const error = rejected({ prefs: value }, "update", "prefs");
      expect(error.message).toContain("a JSON value");
    });

    it("rejects values nested deeper than the limit", () => {
      let deep: unknown = 1;
      for (let i = 0; i < 100; i++) deep = [deep];
      rejected({ prefs: deep }, "update", "prefs");
    });

    it("accepts JSON null as a value (it reads as undefined, docs/design/006)", () => {
      expect(stored({ prefs: null })).toEqual({ prefs: null });
    });
  });

  describe("removal", () => {
    it("removes an optional field set to undefined on update", () => {
      expect(stored({ age: undefined, bestFriendId: undefined, friendIds: undefined }, "update")).toEqual({
        age: null,
        bestFriendId: null,
        friendIds: null,
      });
    });

    it("skips optional fields given as undefined on create", () => {
      expect(stored({ name: "Ada", isAdult: true, age: undefined }, "create")).toEqual({
        name: "Ada",
        isAdult: true,
        joinedAt: NOW,
      });
    });

    it("removes every optional field not given on replace", () => {
      expect(stored({ name: "Ada", isAdult: true }, "replace")).toEqual({
        name: "Ada",
        isAdult: true,
        age: null,
        lastLogin: null,
        joinedAt: NOW,
        prefs: null,
        nickname: null,
        bestFriendId: null,
        friendIds: null,
      });
    });

    it("leaves fields not mentioned alone on update", () => {
      expect(stored({ name: "Ada" }, "update")).toEqual({ name: "Ada" });
    });
  });

  describe('date fallback "now"', () => {
    it("fills the write time on create when omitted", () => {
      expect(stored({ name: "Ada", isAdult: true }, "create").joinedAt).toBe(NOW);
      expect(stored({ name: "Ada", isAdult: true, joinedAt: undefined }, "create").joinedAt).toBe(NOW);
    });

    it("keeps a given date on create", () => {
      expect(stored({ name: "Ada", isAdult: true, joinedAt: new Date(5) }, "create").joinedAt).toBe(5);
    });

    it("does not touch the field on update", () => {
      expect(stored({ name: "Ada" }, "update")).not.toHaveProperty("joinedAt");
    });
  });

  it("returns the first problem in field order and writes nothing partial", () => {
    const result = validateWrite(users, { name: "Ada", age: "x", isAdult: "y" }, "update", NOW);
    expect(result.error?.details).toEqual({ collection: "users", field: "age" });
    expect(result.data).toBeUndefined();
  });
});

describe("describe", () => {
  it("describes values briefly and safely", () => {
    expect(describeValue(null)).toBe("null");
    expect(describeValue([1])).toBe("an array");
    expect(describeValue(new Date(0))).toBe("a Date");
    expect(describeValue(Number.NaN)).toBe("NaN");
    expect(describeValue("x".repeat(50))).toBe(`the string "${"x".repeat(40)}…"`);
    expect(describeValue({ secret: 1 })).toBe("an object");
    expect(describeValue(3)).toBe("number 3");
    expect(describeValue(true)).toBe("boolean true");
  });

  it("describes undefined and functions without repeating or dumping them", () => {
    expect(describeValue(undefined)).toBe("undefined");
    expect(
      describeValue(function secretSource() {
        return "body";
      }),
    ).toBe("a function");
  });
});

describe("validateRoomValue", () => {
  const cursor = t.object({
    x: t.number({ fallback: 0 }),
    label: t.string({ optional: true }),
    at: t.date({ optional: true }),
  }).spec;
  const tags = t.array(t.string({ fallback: "" })).spec;

  it("accepts fitting values in wire form (dates as epoch ms, fallbacks filled)", () => {
    expect(validateRoomValue(cursor, { x: 1, label: "a" }, "cursor")).toEqual({
      data: { x: 1, label: "a" },
      error: undefined,
    });
    expect(validateRoomValue(cursor, {}, "cursor").data).toEqual({ x: 0 });
    expect(validateRoomValue(cursor, { x: 1, at: new Date(NOW) }, "cursor").data).toEqual({ x: 1, at: NOW });
    expect(validateRoomValue(tags, ["a", "b"], "tags").data).toEqual(["a", "b"]);
    expect(validateRoomValue(t.boolean({ fallback: false }).spec, true, "flag").data).toBe(true);
  });

  it("refuses values that do not fit, naming the path", () => {
    const problem = (spec: typeof cursor, value: unknown) => validateRoomValue(spec, value, "v").error;
    expect(problem(cursor, { x: "1" })?.details).toEqual({ field: "v.x" });
    expect(problem(cursor, { x: 1, extra: true })?.message).toMatch(/v\.extra is not in the schema/);
    expect(problem(cursor, [1])?.code).toBe("VALIDATION");
    expect(problem(cursor, null)?.code).toBe("VALIDATION");
    expect(problem(tags, ["a", 1])?.details).toEqual({ field: "v[1]" });
    expect(problem(tags, "a")?.code).toBe("VALIDATION");
    expect(problem(t.object({ inner: t.object({ n: t.number({ fallback: 0 }) }) }).spec, {})?.details).toEqual({
      field: "v.inner",
    });
  });
});
