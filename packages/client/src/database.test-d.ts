import {
  createSchema,
  type DatabaseResult,
  type Doc,
  type EntityDef,
  type JsonValue,
  type QueryDef,
  type QueryResultDoc,
  type StrictQuery,
  t,
  type WhereClause,
} from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import { type BatchOperation, type CollectionApi, createClient, type Subscription } from "./index.js";

const schema = createSchema({
  entities: {
    users: {
      name: t.string({ fallback: "" }),
      age: t.number({ optional: true }),
      isAdult: t.boolean({ fallback: false }),
      lastLogin: t.date({ optional: true }),
      prefs: t.json({ optional: true }),
    },
    posts: {
      title: t.string({ fallback: "" }),
      viewCount: t.number({ fallback: 0 }),
      publishedAt: t.date({ fallback: "now" }),
      authorId: t.ref("users"),
      tagIds: t.refMany("tags"),
    },
    tags: { name: t.string({ fallback: "" }) },
  },
});
type Users = typeof schema.entities.users;
type Posts = typeof schema.entities.posts;

const client = createClient({ schema });
const db = client.database;

/** The data type of a successful result. */
type Data<R> =
  R extends Promise<infer D> ? (D extends { readonly data: infer T; readonly error: undefined } ? T : never) : never;

describe("database types", () => {
  it("has one collection API per entity, plus batch", () => {
    expectTypeOf(db).toHaveProperty("users");
    expectTypeOf(db).toHaveProperty("posts");
    expectTypeOf(db).toHaveProperty("batch");
    // @ts-expect-error no such collection
    db.comments;
  });

  describe("writes", () => {
    it("create returns the whole document", () => {
      expectTypeOf(db.users.create({ name: "Ada", isAdult: true })).toEqualTypeOf<
        Promise<DatabaseResult<Doc<Users>>>
      >();
      expectTypeOf<Data<ReturnType<typeof db.posts.create>>>().toEqualTypeOf<Doc<Posts>>();
    });

    it("create needs the required fields and rejects unknown fields and wrong types", () => {
      db.posts.create({ title: "t", viewCount: 0 });
      db.posts.create({ title: "t", viewCount: 0, publishedAt: new Date(), authorId: "u1", tagIds: ["t1"] });
      // @ts-expect-error viewCount is required
      db.posts.create({ title: "t" });
      // @ts-expect-error unknown field
      db.users.create({ name: "Ada", isAdult: true, email: "ada@example.com" });
      // @ts-expect-error auto fields are read-only (id may be given: see create-many.test-d.ts)
      db.users.create({ name: "Ada", isAdult: true, createdAt: new Date() });
      // @ts-expect-error wrong value type
      db.users.create({ name: 1, isAdult: true });
      // @ts-expect-error dates are Date objects
      db.users.create({ name: "Ada", isAdult: true, lastLogin: "2024-01-01" });
      // @ts-expect-error refs are strings
      db.posts.create({ title: "t", viewCount: 0, authorId: 1 });
      // @ts-expect-error refMany takes an array of ids
      db.posts.create({ title: "t", viewCount: 0, tagIds: "t1" });
      // @ts-expect-error json fields take JSON
      db.users.create({ name: "Ada", isAdult: true, prefs: { at: new Date() } });
    });

    it("update is partial; its function gets the whole current document", () => {
      db.users.update({ id: "u", fields: { age: 3 } });
      db.users.update({ id: "u", fields: { age: undefined } });
      db.users.update({
        id: "u",
        fields: (prev) => {
          expectTypeOf(prev).toEqualTypeOf<Doc<Users>>();
          return { age: (prev.age ?? 0) + 1 };
        },
      });
      expectTypeOf<Data<ReturnType<typeof db.users.update>>>().toEqualTypeOf<void>();
      // @ts-expect-error unknown field
      db.users.update({ id: "u", fields: { email: "x" } });
      // @ts-expect-error wrong value type
      db.users.update({ id: "u", fields: { age: "3" } });
      // @ts-expect-error the function must return valid fields
      db.users.update({ id: "u", fields: () => ({ age: "3" }) });
      // @ts-expect-error id is required
      db.users.update({ fields: {} });
      // @ts-expect-error a fields function may not return the read-only auto fields
      db.users.update({ id: "u", fields: (prev) => ({ ...prev, age: 1 }) });
      db.users.update({ id: "u", fields: ({ id, createdAt, updatedAt, createdBy, ...rest }) => ({ ...rest, age: 1 }) });
      // @ts-expect-error replaceMany's function neither
      db.users.replaceMany({ fields: (prev) => ({ ...prev }) });
    });

    it("replace needs the required fields", () => {
      db.users.replace({ id: "u", fields: { name: "A", isAdult: false } });
      // @ts-expect-error isAdult is required
      db.users.replace({ id: "u", fields: { name: "A" } });
    });

    it("the many-variants return { count } and take a typed where", () => {
      expectTypeOf<Data<ReturnType<typeof db.users.updateMany>>>().toEqualTypeOf<{ count: number }>();
      expectTypeOf<Data<ReturnType<typeof db.users.deleteMany>>>().toEqualTypeOf<{ count: number }>();
      db.users.updateMany({ where: { age: { lessThan: 18 } }, fields: (prev) => ({ name: prev.name.trim() }) });
      db.users.replaceMany({ fields: { name: "x", isAdult: true } });
      db.users.deleteMany({ where: { name: { startsWith: "A" } } });
      // @ts-expect-error unknown field in where
      db.users.deleteMany({ where: { email: "x" } });
      // @ts-expect-error string operator on a number
      db.users.updateMany({ where: { age: { contains: "1" } }, fields: {} });
    });

    it("batch builders return operations and execute returns results", () => {
      expectTypeOf(db.batch.users.create({ name: "A", isAdult: true })).toEqualTypeOf<BatchOperation>();
      expectTypeOf(db.batch.execute([])).toEqualTypeOf<Promise<DatabaseResult<DatabaseResult<unknown>[]>>>();
      // @ts-expect-error batch create checks fields like create
      db.batch.users.create({ name: "A", isAdult: true, email: "x" });
      // @ts-expect-error batch takes no functions (operations are data)
      db.batch.users.update({ id: "u", fields: () => ({}) });
    });
  });

  describe("query results", () => {
    it("returns every schema field plus id without fields", async () => {
      const { data } = await db.users.query();
      expectTypeOf(data).toEqualTypeOf<
        | {
            id: string;
            name: string;
            age: number | undefined;
            isAdult: boolean;
            lastLogin: Date | undefined;
            prefs: JsonValue | undefined;
          }[]
        | undefined
      >();
      const filtered = await db.posts.query({
        where: { viewCount: { greaterThan: 3 } },
        orderBy: ["title", "asc"],
        limit: 2,
      });
      expectTypeOf(filtered.data).toEqualTypeOf<
        | {
            id: string;
            title: string;
            viewCount: number;
            publishedAt: Date;
            authorId: string | undefined;
            tagIds: string[];
          }[]
        | undefined
      >();
    });

    it("returns exactly the fields set to true", async () => {
      const { data } = await db.users.query({ fields: { name: true, age: true } });
      expectTypeOf(data).toEqualTypeOf<{ name: string; age: number | undefined }[] | undefined>();
      // @ts-expect-error a field is left out, not set to false
      db.users.query({ fields: { name: true, isAdult: false } });
      // @ts-expect-error nor is a relation
      db.posts.query({ fields: { authorId: false } });
      const auto = await db.posts.query({
        fields: { id: true, createdAt: true, updatedAt: true, createdBy: true, tagIds: true },
      });
      expectTypeOf(auto.data).toEqualTypeOf<
        { id: string; createdAt: Date; updatedAt: Date; createdBy: string | undefined; tagIds: string[] }[] | undefined
      >();
    });

    it("queryOne returns one document or undefined", async () => {
      const { data } = await db.users.queryOne({ fields: { name: true }, where: { name: "Ada" } });
      expectTypeOf(data).toEqualTypeOf<{ name: string } | undefined>();
      const all = await db.tags.queryOne();
      expectTypeOf(all.data).toEqualTypeOf<{ id: string; name: string } | undefined>();
    });

    it("subscribe and subscribeOne deliver the query's result type", () => {
      const subscription = db.users.subscribe(
        { fields: { name: true, lastLogin: true } },
        (data, error, loading, hasSynced) => {
          expectTypeOf(hasSynced).toEqualTypeOf<boolean>();
          expectTypeOf(data).toEqualTypeOf<readonly { name: string; lastLogin: Date | undefined }[] | undefined>();
          expectTypeOf(error).toEqualTypeOf<DatabaseResult<never>["error"] | undefined>();
          expectTypeOf(loading).toEqualTypeOf<boolean>();
        },
      );
      expectTypeOf(subscription).toEqualTypeOf<
        Subscription<readonly { name: string; lastLogin: Date | undefined }[]>
      >();
      expectTypeOf(subscription.getCurrentState().data).toEqualTypeOf<
        readonly { name: string; lastLogin: Date | undefined }[] | undefined
      >();
      db.tags.subscribeOne({ where: { name: "x" } }, (data) => {
        expectTypeOf(data).toEqualTypeOf<{ id: string; name: string } | undefined>();
      });
    });
  });

  describe("query checks", () => {
    it("accepts the operators of each field type", () => {
      db.users.query({
        where: {
          name: { startsWith: "A", contains: "d", endsWith: "a", greaterThan: "A", in: ["Ada"], notEquals: "Bob" },
          age: { greaterThan: 1, lessThanOrEqual: 99, notIn: [3], isDefined: true },
          isAdult: true,
          lastLogin: { greaterThan: new Date(), isUndefined: false },
          prefs: { isDefined: true },
          id: { in: ["a", "b"] },
          createdAt: { lessThan: new Date() },
          createdBy: "alice",
        },
      });
      db.posts.query({ where: { tagIds: "t1", authorId: { in: ["u1"] } } });
      db.posts.query({ where: { tagIds: { notIn: ["t1"] } } });
    });

    it("combines filters with or, and and not, checking the fields and operators inside them", () => {
      db.users.query({
        where: {
          or: [{ name: "Ada" }, { age: { greaterThan: 30 } }],
          not: { isAdult: false },
          and: [{ name: { startsWith: "A" } }],
        },
      });
      db.users.query({ where: { or: [{ not: { or: [{ age: 1 }] } }] } });
      db.posts.subscribe({ where: { or: [{ tagIds: "t1" }, { authorId: { in: ["u1"] } }] } }, () => {});
      // @ts-expect-error unknown field inside or
      db.users.query({ where: { or: [{ email: "x" }] } });
      // @ts-expect-error a string operator on a number inside not
      db.users.query({ where: { not: { age: { startsWith: "1" } } } });
      // @ts-expect-error or takes a list of filters
      db.users.query({ where: { or: { name: "Ada" } } });
    });

    it("checks each filter of or and and on its own, whatever keys the others have", () => {
      db.users.query({ where: { or: [{}, { name: "Ada" }, { age: { lessThan: 3 }, isAdult: false }] } });
      db.users.query({ where: { and: [{ name: { startsWith: "A" } }, { age: 1 }] } });
      const prebuilt: Array<WhereClause<Users>> = [{ name: "Ada" }, { age: 1 }];
      db.users.query({ where: { or: prebuilt } });
      // @ts-expect-error unknown field in a filter with a key the first lacks
      db.users.query({ where: { or: [{ name: "x" }, { name: "y", email: 1 }] } });
      // @ts-expect-error unknown field next to an empty filter
      db.users.query({ where: { or: [{}, { name: "y", email: 1 }] } });
      // @ts-expect-error a string operator on a number, in a filter whose key the first lacks
      db.users.query({ where: { or: [{ name: "x" }, { age: { startsWith: "y" } }] } });
      // @ts-expect-error an unknown operator next to a known one, in and
      db.users.query({ where: { and: [{ age: 1 }, { name: { startsWith: "y", bogus: 1 } }] } });
    });

    it("rejects string operators on numbers, booleans and dates", () => {
      // @ts-expect-error string operator on a number
      db.users.query({ where: { age: { startsWith: "1" } } });
      // @ts-expect-error string operator on a number, next to a valid operator
      db.users.query({ where: { age: { greaterThan: 1, contains: "1" } } });
      // @ts-expect-error string operator on a boolean
      db.users.query({ where: { isAdult: { endsWith: "e" } } });
      // @ts-expect-error string operator on a date
      db.users.query({ where: { lastLogin: { contains: "2024" } } });
    });

    it("rejects range operators on booleans and refMany", () => {
      // @ts-expect-error range operator on a boolean
      db.users.query({ where: { isAdult: { greaterThan: false } } });
      // @ts-expect-error range operator on a boolean, next to a valid operator
      db.users.query({ where: { isAdult: { equals: true, lessThan: true } } });
      // @ts-expect-error range operator on a refMany
      db.posts.query({ where: { tagIds: { greaterThan: "t" } } });
    });

    it("rejects comparison operators on json fields", () => {
      // @ts-expect-error json fields take only isDefined / isUndefined
      db.users.query({ where: { prefs: { equals: { a: 1 } } } });
    });

    it("rejects wrong operand types", () => {
      // @ts-expect-error a number field compares with numbers
      db.users.query({ where: { age: { greaterThan: "3" } } });
      // @ts-expect-error a bare value must have the field's type
      db.users.query({ where: { name: 3 } });
      // @ts-expect-error dates compare with Dates
      db.users.query({ where: { lastLogin: { greaterThan: 0 } } });
      // @ts-expect-error a refMany compares with one member id
      db.posts.query({ where: { tagIds: ["t1"] } });
    });

    it("rejects where on unknown fields", () => {
      // @ts-expect-error unknown field
      db.users.query({ where: { email: "x" } });
      // @ts-expect-error unknown field, next to a known one
      db.users.query({ where: { name: "Ada", email: "x" } });
      // @ts-expect-error unknown field in queryOne
      db.users.queryOne({ where: { name: "Ada", email: "x" } });
      // @ts-expect-error unknown field in subscribe
      db.users.subscribe({ where: { name: "Ada", email: "x" } }, () => {});
    });

    it("rejects unknown fields in fields and unknown options", () => {
      // @ts-expect-error unknown field
      db.users.query({ fields: { email: true } });
      // @ts-expect-error unknown field, next to a known one
      db.users.query({ fields: { name: true, email: true } });
      // @ts-expect-error unknown option
      db.users.query({ where: { name: "Ada" }, sort: ["name", "asc"] });
      // @ts-expect-error fields take booleans
      db.users.query({ fields: { name: "yes" } });
    });

    it("rejects orderBy on refMany, json and unknown fields", () => {
      db.posts.query({
        orderBy: [
          ["publishedAt", "desc"],
          ["authorId", "asc"],
          ["createdAt", "asc"],
        ],
      });
      // @ts-expect-error refMany fields cannot be sorted
      db.posts.query({ orderBy: ["tagIds", "asc"] });
      // @ts-expect-error json fields cannot be sorted
      db.users.query({ orderBy: ["prefs", "asc"] });
      // @ts-expect-error json fields cannot be sorted, in a list either
      db.users.query({
        orderBy: [
          ["name", "asc"],
          ["prefs", "desc"],
        ],
      });
      // @ts-expect-error unknown field
      db.users.query({ orderBy: ["email", "asc"] });
      // @ts-expect-error direction is asc or desc
      db.users.query({ orderBy: ["name", "up"] });
    });

    it("accepts queries built ahead of time and forwarded generically", () => {
      const built: QueryDef<Users> = { where: { name: "Ada" }, orderBy: ["name", "asc"] };
      expectTypeOf(db.users.query(built)).toEqualTypeOf<
        Promise<DatabaseResult<QueryResultDoc<Users, QueryDef<Users>>[]>>
      >();
      const literal = { fields: { name: true }, where: { lastLogin: new Date(0), age: { in: [1, 2] } } } as const;
      expectTypeOf(db.users.queryOne(literal)).toEqualTypeOf<Promise<DatabaseResult<{ name: string } | undefined>>>();
      function follow<E extends EntityDef, const Q extends QueryDef<E>>(
        api: CollectionApi<E>,
        query: Q & StrictQuery<E, Q>,
      ) {
        return api.subscribe(query, () => {});
      }
      expectTypeOf(follow(db.tags, { fields: { name: true } })).toEqualTypeOf<
        Subscription<readonly { name: string }[]>
      >();
      // @ts-expect-error the forwarding function checks like subscribe
      follow(db.tags, { fields: { name: true, title: true } });
    });

    it("treats a typed json field as JSON, whatever its value type", () => {
      const typed = createClient({
        schema: createSchema({ entities: { notes: { label: t.json<string>({ optional: true }) } } }),
      });
      typed.database.notes.query({ where: { label: { isDefined: true } } });
      // @ts-expect-error json fields cannot be sorted, even when their values are strings
      typed.database.notes.query({ orderBy: ["label", "asc"] });
      // @ts-expect-error json fields take only isDefined / isUndefined
      typed.database.notes.query({ where: { label: "x" } });
      // @ts-expect-error json fields take only isDefined / isUndefined
      typed.database.notes.deleteMany({ where: { label: { startsWith: "x" } } });
    });

    it("rejects a non-number limit", () => {
      // @ts-expect-error limit is a number
      db.users.query({ limit: "10" });
    });
  });
});
