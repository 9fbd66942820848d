import { describe, expect, it } from "vitest";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { normalizeQuery } from "./normalize.js";
import type { Condition, Operator } from "./normalized-query.js";

const schema = createSchema({
  entities: {
    users: {
      name: t.string({ fallback: "" }),
      age: t.number({ optional: true }),
      isAdult: t.boolean({ fallback: false }),
      lastLogin: t.date({ optional: true }),
      prefs: t.json({ optional: true }),
      bestFriendId: t.ref("users"),
      friendIds: t.refMany("users"),
    },
  },
});
const users = schema.collections.users!;

function normalized(query: unknown) {
  const result = normalizeQuery(users, query);
  expect(result.error).toBeUndefined();
  return result.data!;
}

function conditions(where: Record<string, unknown>): Condition[] {
  return [...normalized({ where }).where];
}

/** The error of a query that must fail; checks it names `field` (when given). */
function rejected(query: unknown, field?: string) {
  const result = normalizeQuery(users, query);
  expect(result.data).toBeUndefined();
  expect(result.error?.code).toBe("VALIDATION");
  expect(result.error?.message).toMatch(/^users query: /);
  if (field !== undefined) {
    expect(result.error?.details).toEqual({ field });
    expect(result.error?.message).toContain(field);
  }
  return result.error!;
}

const date = new Date(1_000);

/** A valid operand per field for each comparison operator (undefined: the operator is not allowed). */
const operands: Record<string, Partial<Record<Operator, unknown>>> = {
  name: {
    equals: "a",
    notEquals: "a",
    contains: "a",
    startsWith: "a",
    endsWith: "a",
    greaterThan: "a",
    greaterThanOrEqual: "a",
    lessThan: "a",
    lessThanOrEqual: "a",
    in: ["a"],
    notIn: ["a"],
  },
  id: {
    equals: "a",
    notEquals: "a",
    contains: "a",
    startsWith: "a",
    endsWith: "a",
    greaterThan: "a",
    greaterThanOrEqual: "a",
    lessThan: "a",
    lessThanOrEqual: "a",
    in: ["a"],
    notIn: ["a"],
  },
  createdBy: { equals: "a", contains: "a", in: ["a"] },
  age: {
    equals: 1,
    notEquals: 1,
    greaterThan: 1,
    greaterThanOrEqual: 1,
    lessThan: 1,
    lessThanOrEqual: 1,
    in: [1],
    notIn: [1],
  },
  isAdult: { equals: true, notEquals: false, in: [true], notIn: [false] },
  lastLogin: {
    equals: date,
    notEquals: date,
    greaterThan: date,
    greaterThanOrEqual: date,
    lessThan: date,
    lessThanOrEqual: date,
    in: [date],
    notIn: [date],
  },
  createdAt: { equals: date, greaterThan: date, lessThanOrEqual: date, in: [date] },
  updatedAt: { notEquals: date, greaterThanOrEqual: date, lessThan: date, notIn: [date] },
  bestFriendId: { equals: "u", notEquals: "u", startsWith: "u", in: ["u"], notIn: ["u"] },
  friendIds: { equals: "u", notEquals: "u", in: ["u"], notIn: ["u"] },
  prefs: {},
};

const stringOperators: Operator[] = ["contains", "startsWith", "endsWith"];
const rangeOperators: Operator[] = ["greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"];

describe("normalizeQuery", () => {
  describe("where operators per field type", () => {
    for (const [field, ops] of Object.entries(operands)) {
      for (const [op, operand] of Object.entries(ops)) {
        it(`accepts ${field} ${op}`, () => {
          const [condition] = conditions({ [field]: { [op]: operand } });
          const expected = Array.isArray(operand)
            ? operand.map((each) => (each instanceof Date ? each.getTime() : each))
            : operand instanceof Date
              ? operand.getTime()
              : operand;
          expect(condition).toEqual({ field, op, operand: expected });
        });
      }
    }

    it.each([
      "name",
      "age",
      "isAdult",
      "lastLogin",
      "prefs",
      "bestFriendId",
      "friendIds",
      "id",
      "createdAt",
      "updatedAt",
      "createdBy",
    ])("accepts isDefined and isUndefined on %s", (field) => {
      expect(conditions({ [field]: { isDefined: true } })).toEqual([{ field, op: "isDefined", operand: true }]);
      expect(conditions({ [field]: { isUndefined: false } })).toEqual([{ field, op: "isUndefined", operand: false }]);
    });

    it.each(["age", "isAdult", "lastLogin", "friendIds", "prefs", "createdAt"])(
      "rejects string operators on %s",
      (field) => {
        for (const op of stringOperators) rejected({ where: { [field]: { [op]: "a" } } }, field);
      },
    );

    it.each([
      ["isAdult", true],
      ["friendIds", "u"],
      ["prefs", 1],
    ])("rejects range operators on %s", (field, operand) => {
      for (const op of rangeOperators) rejected({ where: { [field]: { [op]: operand } } }, field);
    });

    it("allows only isDefined / isUndefined on json fields", () => {
      for (const op of ["equals", "notEquals", "in", "notIn"]) {
        const error = rejected(
          { where: { prefs: { [op]: op.endsWith("n") || op === "in" ? [{ a: 1 }] : { a: 1 } } } },
          "prefs",
        );
        expect(error.message).toContain("isDefined");
      }
    });

    it("names the field and the problem in operand type errors", () => {
      expect(rejected({ where: { age: { greaterThan: "25" } } }, "age").message).toBe(
        'users query: where.age.greaterThan expects a number, got the string "25".',
      );
      expect(rejected({ where: { lastLogin: { lessThan: 1_000 } } }, "lastLogin").message).toContain("a valid Date");
      expect(rejected({ where: { name: { startsWith: 1 } } }, "name").message).toContain("expects a string");
      expect(rejected({ where: { isAdult: { equals: "yes" } } }, "isAdult").message).toContain("expects a boolean");
      expect(rejected({ where: { bestFriendId: { equals: 3 } } }, "bestFriendId").message).toContain("an id string");
      expect(rejected({ where: { friendIds: { equals: ["u"] } } }, "friendIds").message).toContain("an id string");
    });

    it("rejects null, NaN and invalid dates as operands", () => {
      rejected({ where: { name: null } }, "name");
      rejected({ where: { name: { notEquals: null } } }, "name");
      rejected({ where: { age: { equals: Number.NaN } } }, "age");
      rejected({ where: { lastLogin: { greaterThan: new Date("nope") } } }, "lastLogin");
    });

    it("takes arrays for in / notIn and checks every member", () => {
      expect(rejected({ where: { age: { in: 3 } } }, "age").message).toContain("takes an array");
      expect(rejected({ where: { age: { notIn: [1, "2"] } } }, "age").message).toContain('the string "2"');
      expect(conditions({ age: { in: [] } })).toEqual([{ field: "age", op: "in", operand: [] }]);
    });

    it("takes only booleans for isDefined / isUndefined", () => {
      expect(rejected({ where: { age: { isDefined: "yes" } } }, "age").message).toContain("true or false");
      rejected({ where: { age: { isUndefined: 1 } } }, "age");
    });

    it("rejects unknown operators, naming the field and the operator", () => {
      const error = rejected({ where: { name: { like: "A%" } } }, "name");
      expect(error.message).toContain('"like"');
      rejected({ where: { name: { toString: "x" } } }, "name");
    });

    it("keeps every operator of one field (all must hold)", () => {
      expect(conditions({ age: { greaterThan: 25, lessThan: 65 }, name: { startsWith: "J" } })).toEqual([
        { field: "age", op: "greaterThan", operand: 25 },
        { field: "age", op: "lessThan", operand: 65 },
        { field: "name", op: "startsWith", operand: "J" },
      ]);
    });
  });

  describe("bare values", () => {
    it("become equals", () => {
      expect(conditions({ name: "Ada", age: 36, isAdult: true, bestFriendId: "u1", friendIds: "u2", id: "x" })).toEqual(
        [
          { field: "name", op: "equals", operand: "Ada" },
          { field: "age", op: "equals", operand: 36 },
          { field: "isAdult", op: "equals", operand: true },
          { field: "bestFriendId", op: "equals", operand: "u1" },
          { field: "friendIds", op: "equals", operand: "u2" },
          { field: "id", op: "equals", operand: "x" },
        ],
      );
    });

    it("treats a bare Date as equals on its instant", () => {
      expect(conditions({ lastLogin: new Date(5), createdAt: new Date(6) })).toEqual([
        { field: "lastLogin", op: "equals", operand: 5 },
        { field: "createdAt", op: "equals", operand: 6 },
      ]);
    });

    it("type-checks bare values like equals operands", () => {
      rejected({ where: { name: new Date(0) } }, "name");
      rejected({ where: { age: "36" } }, "age");
      rejected({ where: { friendIds: ["a", "b"] } }, "friendIds");
      rejected({ where: { prefs: "x" } }, "prefs");
    });
  });

  describe("undefined parts", () => {
    it("ignores where: { x: undefined }, even for names not in the schema", () => {
      expect(normalized({ where: { name: undefined, nickname: undefined } }).where).toEqual([]);
    });

    it("ignores operators whose operand is undefined", () => {
      expect(conditions({ age: { greaterThan: undefined, lessThan: 10 } })).toEqual([
        { field: "age", op: "lessThan", operand: 10 },
      ]);
    });

    it("treats an undefined or null query as the empty query", () => {
      expect(normalized(undefined)).toEqual(normalized({}));
      expect(normalized(null)).toEqual(normalized({}));
    });
  });

  describe("orderBy", () => {
    it("takes a single tuple", () => {
      expect(normalized({ orderBy: ["name", "asc"] }).orderBy).toEqual([["name", "asc"]]);
    });

    it("takes a list of tuples, in order", () => {
      expect(
        normalized({
          orderBy: [
            ["age", "desc"],
            ["name", "asc"],
          ],
        }).orderBy,
      ).toEqual([
        ["age", "desc"],
        ["name", "asc"],
      ]);
      expect(normalized({ orderBy: [] }).orderBy).toEqual([]);
    });

    it("sorts on auto fields, refs, dates and booleans", () => {
      expect(
        normalized({
          orderBy: [
            ["createdAt", "desc"],
            ["id", "asc"],
            ["bestFriendId", "asc"],
            ["lastLogin", "asc"],
            ["isAdult", "desc"],
          ],
        }).orderBy,
      ).toHaveLength(5);
    });

    it.each(["prefs", "friendIds"])("refuses to sort on the %s field", (field) => {
      expect(rejected({ orderBy: [field, "asc"] }, field).message).toContain("cannot be sorted");
      rejected(
        {
          orderBy: [
            ["name", "asc"],
            [field, "desc"],
          ],
        },
        field,
      );
    });

    it("rejects unknown fields and malformed entries", () => {
      rejected({ orderBy: ["nickname", "asc"] }, "nickname");
      for (const orderBy of [
        "name",
        ["name"],
        ["name", "up"],
        [["name", "asc", "x"]],
        [["name", "asc"], "age"],
        { name: "asc" },
        [[1, "asc"]],
      ]) {
        expect(rejected({ orderBy }).message).toContain("orderBy");
      }
    });
  });

  describe("limit", () => {
    it("accepts whole numbers from 0", () => {
      expect(normalized({ limit: 0 }).limit).toBe(0);
      expect(normalized({ limit: 10 }).limit).toBe(10);
      expect(normalized({}).limit).toBeUndefined();
    });

    it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "10", null])("rejects limit %o", (limit) => {
      expect(rejected({ limit }).message).toContain("limit must be a whole number >= 0");
    });
  });

  describe("fields", () => {
    it("returns every schema field plus id when omitted, without the other auto fields", () => {
      const query = normalized({});
      expect(query.select).toEqual(["id", "name", "age", "isAdult", "lastLogin", "prefs", "bestFriendId", "friendIds"]);
      expect(Object.keys(query.specs).sort()).toEqual([...query.select].sort());
    });

    it("returns only fields set to true, auto fields included when asked", () => {
      const query = normalized({
        fields: { name: true, createdAt: true, createdBy: true, updatedAt: undefined },
      });
      expect(query.select).toEqual(["name", "createdAt", "createdBy"]);
    });

    it("rejects false: a field is selected with true and left out otherwise", () => {
      const error = rejected({ fields: { name: true, age: false } }, "age");
      expect(error.message).toBe(
        "users query: fields.age must be true (leave a field out not to select it), got boolean false.",
      );
      rejected({ fields: { bestFriendId: false } }, "bestFriendId");
      expect(normalizeQuery(users, { fields: { createdAt: false } }).error?.code).toBe("VALIDATION");
    });

    it("rejects unknown fields and values other than true", () => {
      rejected({ fields: { nickname: true } }, "nickname");
      rejected({ fields: { hasOwnProperty: true } }, "hasOwnProperty");
      expect(rejected({ fields: { name: "yes" } }, "name").message).toContain("must be true");
      rejected({ fields: { name: 1 } }, "name");
      rejected({ fields: { name: null } }, "name");
      rejected({ fields: ["name"] });
      rejected({ fields: null });
    });
  });

  describe("or, and, not", () => {
    it("keeps or and not as conditions of their own, and flattens and into the level it is in", () => {
      expect(
        conditions({ name: "Ada", or: [{ age: { greaterThan: 3 } }, { isAdult: true, name: { startsWith: "B" } }] }),
      ).toEqual([
        { field: "name", op: "equals", operand: "Ada" },
        {
          or: [
            [{ field: "age", op: "greaterThan", operand: 3 }],
            [
              { field: "isAdult", op: "equals", operand: true },
              { field: "name", op: "startsWith", operand: "B" },
            ],
          ],
        },
      ]);
      expect(
        conditions({ not: { lastLogin: { isDefined: true } }, and: [{ age: 1 }, { age: { lessThan: 9 } }] }),
      ).toEqual([
        { not: [{ field: "lastLogin", op: "isDefined", operand: true }] },
        { field: "age", op: "equals", operand: 1 },
        { field: "age", op: "lessThan", operand: 9 },
      ]);
      // An empty filter inside them matches every document, as at the top.
      expect(conditions({ or: [{}], not: {} })).toEqual([{ or: [[]] }, { not: [] }]);
      // Fields inside them carry their read rules like any other.
      expect(normalized({ where: { or: [{ lastLogin: { isUndefined: true } }] } }).specs.lastLogin).toEqual(
        users.fields.lastLogin,
      );
    });

    it("checks what is inside them, naming where", () => {
      const message = (where: unknown) => normalizeQuery(users, { where }).error?.message;
      expect(message({ or: [] })).toMatch(/where\.or takes a non-empty list of filters/);
      expect(message({ or: { name: "Ada" } })).toMatch(/where\.or takes a non-empty list/);
      expect(message({ and: [{ name: "Ada" }, "x"] })).toMatch(/where\.and\[1\] must be an object/);
      expect(message({ or: [{ name: "Ada" }, { nope: 1 }] })).toMatch(/where\.or\[1\]\.nope is not a field of users/);
      expect(message({ not: { age: { startsWith: "1" } } })).toMatch(
        /where\.not\.age\.startsWith works on strings only/,
      );
      let deep: Record<string, unknown> = { name: "x" };
      for (let i = 0; i < 9; i++) deep = { not: deep };
      expect(message(deep)).toMatch(/nest at most 8 deep/);
    });
  });

  it("rejects unknown options, listing the known ones", () => {
    const error = rejected({ filter: { name: "Ada" } });
    expect(error.message).toContain('"filter"');
    expect(error.message).toContain("fields, where, orderBy, limit");
  });

  it("rejects a query or where that is not an object", () => {
    rejected("name");
    rejected([]);
    rejected({ where: "name = 'Ada'" });
    rejected({ where: [] });
    rejected({ where: null });
  });

  it("rejects where on fields not in the schema", () => {
    const error = rejected({ where: { nickname: "Ada" } }, "nickname");
    expect(error.message).toContain("not a field of users");
    rejected({ where: { constructor: "x" } }, "constructor");
  });

  it("produces plain JSON carrying the read rules of every referenced field", () => {
    const query = normalized({
      fields: { name: true },
      where: { age: { greaterThan: 3 }, lastLogin: { lessThan: new Date(7) } },
      orderBy: ["createdAt", "desc"],
      limit: 2,
    });
    expect(JSON.parse(JSON.stringify(query))).toEqual(query);
    expect(query).toEqual({
      collection: "users",
      select: ["name"],
      where: [
        { field: "age", op: "greaterThan", operand: 3 },
        { field: "lastLogin", op: "lessThan", operand: 7 },
      ],
      orderBy: [["createdAt", "desc"]],
      limit: 2,
      specs: {
        name: users.fields.name,
        age: users.fields.age,
        lastLogin: users.fields.lastLogin,
        createdAt: { type: "date", optional: true },
      },
    });
  });
});
