import { createSchema, DatabaseError, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { type BatchOperation, createClient, type DatabaseResult } from "./index.js";

const schema = createSchema({
  entities: {
    users: {
      name: t.string({ fallback: "" }),
      age: t.number({ optional: true }),
      isAdult: t.boolean({ optional: true, fallback: false }),
      lastLogin: t.date({ optional: true }),
      prefs: t.json({ optional: true }),
      nickname: t.string({ optional: true, fallback: "anon" }),
    },
    posts: {
      title: t.string({ fallback: "" }),
      viewCount: t.number({ optional: true, fallback: 0 }),
      publishedAt: t.date({ fallback: "now" }),
      authorId: t.ref("users"),
      tagIds: t.refMany("tags"),
    },
    tags: { name: t.string({ fallback: "" }) },
  },
});

const START = 1_700_000_000_000;

/** A local client with a clock the test moves forward by hand. */
function setup(options: { userId?: string } = {}) {
  const clock = { ms: START };
  const client = createClient({ schema, now: () => clock.ms, ...options });
  return { client, db: client.database, clock };
}

const NANOID = /^[A-Za-z0-9_-]{21}$/;

/** Unwraps a result that must have succeeded. */
function must<R extends DatabaseResult<unknown>>(result: R): Extract<R, { error: undefined }>["data"] {
  if (result.error) throw new Error(`expected success, got ${result.error.code}: ${result.error.message}`);
  return result.data;
}

describe("client database (local)", () => {
  describe("create", () => {
    it("returns the whole document with auto fields", async () => {
      const { db } = setup({ userId: "alice" });
      const { data: ada, error } = await db.users.create({ name: "Ada", age: 36 });
      expect(error).toBeUndefined();
      expect(ada).toEqual({
        id: expect.stringMatching(NANOID),
        name: "Ada",
        age: 36,
        isAdult: false,
        lastLogin: undefined,
        prefs: undefined,
        nickname: "anon",
        createdAt: new Date(START),
        updatedAt: new Date(START),
        createdBy: "alice",
      });
      expect(ada!.createdAt).toBeInstanceOf(Date);
      expect(ada!.updatedAt).toBeInstanceOf(Date);
    });

    it("gives each document its own id", async () => {
      const { db } = setup();
      const ids = new Set<string>();
      for (let i = 0; i < 20; i++) ids.add(must(await db.tags.create({ name: `t${i}` })).id);
      expect(ids.size).toBe(20);
    });

    it("leaves createdBy undefined for a client without a user id", async () => {
      const { db } = setup();
      expect(must(await db.users.create({ name: "Ada", isAdult: true })).createdBy).toBeUndefined();
    });

    it('fills a date with fallback "now" with the creation time', async () => {
      const { db } = setup();
      const post = must(await db.posts.create({ title: "Hello" }));
      expect(post.publishedAt).toEqual(new Date(START));
      expect(post.tagIds).toEqual([]);
      expect(post.authorId).toBeUndefined();
    });

    it("returns a copy: changing it does not change the store", async () => {
      const { db } = setup();
      const ada = must(await db.users.create({ name: "Ada", prefs: { theme: "dark" } }));
      (ada.prefs as { theme: string }).theme = "light";
      ada.name = "Eve";
      const again = must(await db.users.queryOne({ where: { id: ada.id } }));
      expect(again).toMatchObject({ name: "Ada", prefs: { theme: "dark" } });
    });

    it("requires every required field", async () => {
      const { db } = setup();
      // @ts-expect-error name is required
      const { data, error } = await db.tags.create({});
      expect(data).toBeUndefined();
      expect(error).toBeInstanceOf(DatabaseError);
      expect(error?.code).toBe("VALIDATION");
      expect(error?.details?.field).toBe("name");
      expect(must(await db.tags.query()).length).toBe(0);
    });
  });

  describe("update", () => {
    it("changes only the given fields and bumps updatedAt", async () => {
      const { db, clock } = setup({ userId: "alice" });
      const ada = must(await db.users.create({ name: "Ada", age: 36, isAdult: true }));
      clock.ms += 1_000;
      expect(await db.users.update({ id: ada.id, fields: { age: 37 } })).toEqual({ data: undefined, error: undefined });
      const after = must(
        await db.users.queryOne({
          where: { id: ada.id },
          fields: { name: true, age: true, isAdult: true, createdAt: true, updatedAt: true, createdBy: true },
        }),
      );
      expect(after).toEqual({
        name: "Ada",
        age: 37,
        isAdult: true,
        createdAt: new Date(START),
        updatedAt: new Date(START + 1_000),
        createdBy: "alice",
      });
    });

    it("passes the whole current document to a function and applies its result", async () => {
      const { db } = setup({ userId: "alice" });
      const ada = must(await db.users.create({ name: "Ada", age: 36 }));
      const seen: unknown[] = [];
      must(
        await db.users.update({
          id: ada.id,
          fields: (prev) => {
            seen.push(prev);
            return { age: (prev.age ?? 0) + 1 };
          },
        }),
      );
      must(await db.users.update({ id: ada.id, fields: (prev) => ({ age: (prev.age ?? 0) + 1 }) }));
      expect(seen).toEqual([ada]);
      expect(must(await db.users.queryOne({ where: { id: ada.id } }))?.age).toBe(38);
    });

    it("removes an optional field set to undefined (it reads as its fallback)", async () => {
      const { db } = setup();
      const ada = must(await db.users.create({ name: "Ada", age: 36, nickname: "A", lastLogin: new Date(5) }));
      must(
        await db.users.update({ id: ada.id, fields: { age: undefined, nickname: undefined, lastLogin: undefined } }),
      );
      expect(must(await db.users.queryOne({ where: { id: ada.id } }))).toMatchObject({
        age: undefined,
        nickname: "anon",
        lastLogin: undefined,
      });
    });

    it("refuses to remove a required field", async () => {
      const { db } = setup();
      const ada = must(await db.users.create({ name: "Ada" }));
      const { error } = await db.users.update({ id: ada.id, fields: { name: undefined as never } });
      expect(error?.code).toBe("VALIDATION");
      expect(error?.details?.field).toBe("name");
    });

    it("refuses read-only auto fields returned by a fields function", async () => {
      const { db } = setup();
      const ada = must(await db.users.create({ name: "Ada" }));
      const { error } = await db.users.update({
        id: ada.id,
        fields: (prev) => ({ ...(prev as object), age: 1 }) as never,
      });
      expect(error?.code).toBe("VALIDATION");
      expect(error?.details?.field).toBe("id");
      expect(error?.message).toContain("read-only");
      const { id: _id, createdAt: _c, updatedAt: _u, createdBy: _b, ...rest } = ada;
      must(await db.users.update({ id: ada.id, fields: () => ({ ...rest, age: 2 }) }));
      expect(must(await db.users.queryOne({ where: { id: ada.id } }))?.age).toBe(2);
    });

    it("reports a throwing or invalid fields function as VALIDATION without writing", async () => {
      const { db } = setup();
      const ada = must(await db.users.create({ name: "Ada", age: 1 }));
      const thrown = await db.users.update({
        id: ada.id,
        fields: () => {
          throw new Error("boom");
        },
      });
      expect(thrown.error?.code).toBe("VALIDATION");
      expect(thrown.error?.message).toContain("boom");
      const invalid = await db.users.update({ id: ada.id, fields: () => ({ age: "old" as unknown as number }) });
      expect(invalid.error?.details?.field).toBe("age");
      expect(must(await db.users.queryOne({ where: { id: ada.id } }))?.age).toBe(1);
    });
  });

  describe("replace", () => {
    it("sets the given fields and removes the others (they read as their fallback)", async () => {
      const { db } = setup();
      const ada = must(await db.users.create({ name: "Ada", age: 36, isAdult: true, nickname: "A", prefs: { a: 1 } }));
      must(await db.users.replace({ id: ada.id, fields: { name: "Ada L.", isAdult: false } }));
      const after = must(
        await db.users.queryOne({
          where: { id: ada.id },
          fields: { id: true, createdAt: true, name: true, age: true, isAdult: true, nickname: true, prefs: true },
        }),
      );
      expect(after).toEqual({
        id: ada.id,
        createdAt: ada.createdAt,
        name: "Ada L.",
        age: undefined,
        isAdult: false,
        nickname: "anon",
        prefs: undefined,
      });
    });

    it("requires every required field", async () => {
      const { db } = setup();
      const tag = must(await db.tags.create({ name: "x" }));
      // @ts-expect-error name is required on replace
      const { error } = await db.tags.replace({ id: tag.id, fields: {} });
      expect(error?.code).toBe("VALIDATION");
      expect(error?.details?.field).toBe("name");
      expect(must(await db.tags.queryOne())?.name).toBe("x");
    });

    it("empties refMany and ref fields not given", async () => {
      const { db } = setup();
      const user = must(await db.users.create({ name: "Ada" }));
      const post = must(await db.posts.create({ title: "a", authorId: user.id, tagIds: ["t1", "t2"] }));
      must(await db.posts.replace({ id: post.id, fields: { title: "b" } }));
      expect(
        must(await db.posts.queryOne({ where: { id: post.id }, fields: { authorId: true, tagIds: true } })),
      ).toEqual({
        authorId: undefined,
        tagIds: [],
      });
    });

    it("accepts a function of the current document", async () => {
      const { db } = setup();
      const ada = must(await db.users.create({ name: "Ada", age: 36 }));
      must(await db.users.replace({ id: ada.id, fields: (prev) => ({ name: prev.name.toUpperCase() }) }));
      expect(must(await db.users.queryOne({ where: { id: ada.id } }))).toMatchObject({ name: "ADA", age: undefined });
    });
  });

  describe("delete", () => {
    it("deletes a document for good", async () => {
      const { db } = setup();
      const ada = must(await db.users.create({ name: "Ada" }));
      expect(await db.users.delete(ada.id)).toEqual({ data: undefined, error: undefined });
      expect(must(await db.users.query())).toEqual([]);
      expect(must(await db.users.queryOne({ where: { id: ada.id } }))).toBeUndefined();
    });

    it("answers NOT_FOUND for unknown and deleted ids on update, replace and delete", async () => {
      const { db } = setup();
      const ada = must(await db.users.create({ name: "Ada" }));
      must(await db.users.delete(ada.id));
      for (const id of ["nope", ada.id]) {
        const results = [
          await db.users.update({ id, fields: { age: 1 } }),
          await db.users.update({ id, fields: (prev) => ({ age: prev.age }) }),
          await db.users.replace({ id, fields: { name: "x" } }),
          await db.users.delete(id),
        ];
        for (const result of results) {
          expect(result.data).toBeUndefined();
          expect(result.error?.code).toBe("NOT_FOUND");
          expect(result.error?.message).toContain(id);
          expect(result.error?.details).toEqual({ collection: "users", id });
        }
      }
      expect(must(await db.users.query())).toEqual([]);
    });

    it("treats ids of another collection as unknown", async () => {
      const { db } = setup();
      const tag = must(await db.tags.create({ name: "x" }));
      expect((await db.users.delete(tag.id)).error?.code).toBe("NOT_FOUND");
      expect(must(await db.tags.query()).length).toBe(1);
    });
  });

  describe("validation", () => {
    it("names the field in VALIDATION errors (details.field)", async () => {
      const { db } = setup();
      const ada = must(await db.users.create({ name: "Ada" }));
      const cases = [
        // @ts-expect-error wrong type
        [await db.users.create({ name: 5 }), "name"],
        // @ts-expect-error unknown field
        [await db.users.create({ name: "x", email: "e" }), "email"],
        // @ts-expect-error auto fields are read-only
        [await db.users.update({ id: ada.id, fields: { createdAt: new Date() } }), "createdAt"],
        // @ts-expect-error refs are strings
        [await db.posts.create({ title: "x", authorId: 3 }), "authorId"],
        // @ts-expect-error refMany takes an array of strings
        [await db.posts.create({ title: "x", tagIds: "t1" }), "tagIds"],
        [await db.users.create({ name: "x", prefs: { f: (() => 1) as never } }), "prefs"],
        [await db.users.create({ name: "x", age: Number.NaN }), "age"],
        [await db.users.query({ where: { age: { greaterThan: "3" as never } } }), "age"],
        [await db.users.updateMany({ where: {}, fields: { isAdult: "yes" as never } }), "isAdult"],
      ] as const;
      for (const [result, field] of cases) {
        expect(result.data).toBeUndefined();
        expect(result.error?.code).toBe("VALIDATION");
        expect(result.error?.details?.field).toBe(field);
        expect(result.error?.message).toContain(field);
      }
      expect(must(await db.users.query()).map((user) => user.name)).toEqual(["Ada"]);
    });

    it("never throws for expected failures, returning errors instead", async () => {
      const { db } = setup();
      const ada = must(await db.users.create({ name: "Ada" }));
      const any = db as unknown as Record<
        string,
        Record<string, (...args: unknown[]) => Promise<{ error?: DatabaseError }>>
      >;
      const attempts: Array<() => Promise<{ error?: DatabaseError }>> = [
        () => any.users!.create!(),
        () => any.users!.create!(null),
        () => any.users!.create!("Ada"),
        () => any.users!.create!([]),
        () => any.users!.update!(),
        () => any.users!.update!({}),
        () => any.users!.update!({ id: 5, fields: {} }),
        () => any.users!.update!({ id: ada.id }),
        () => any.users!.update!({ id: ada.id, fields: () => "age" }),
        () => any.users!.replace!(null),
        () => any.users!.delete!(),
        () => any.users!.delete!({ id: "x" }),
        () => any.users!.updateMany!(),
        () => any.users!.updateMany!({ where: {} }),
        () => any.users!.updateMany!({ where: { nope: 1 }, fields: {} }),
        () => any.users!.replaceMany!({ where: "x", fields: {} }),
        () => any.users!.deleteMany!(),
        () => any.users!.deleteMany!({ where: { age: { like: 1 } } }),
        () => any.users!.query!("x"),
        () => any.users!.query!({ where: { age: "x" } }),
        () => any.users!.query!({ orderBy: ["prefs", "asc"] }),
        () => any.users!.query!({ limit: -1 }),
        () => any.users!.query!({ sort: "name" }),
        () => any.users!.queryOne!({ fields: { nope: true } }),
        () => any.batch!.execute!("ops"),
        () => any.batch!.execute!(null),
      ];
      for (const attempt of attempts) {
        const result = await attempt();
        expect(result.error, String(attempt)).toBeInstanceOf(DatabaseError);
        expect(result.error?.code, String(attempt)).toBe("VALIDATION");
      }
    });
  });

  describe("updateMany, replaceMany, deleteMany", () => {
    async function seed() {
      const context = setup();
      for (const [name, age] of [
        ["Ada", 36],
        ["Bob", 17],
        ["Cy", 12],
        ["Di", 50],
      ] as const) {
        must(await context.db.users.create({ name, age }));
      }
      return context;
    }
    const names = async (db: ReturnType<typeof setup>["db"]) =>
      must(await db.users.query({ fields: { name: true, age: true, isAdult: true }, orderBy: ["name", "asc"] }));

    it("updateMany changes every match and returns { count }", async () => {
      const { db } = await seed();
      expect(
        await db.users.updateMany({ where: { age: { greaterThanOrEqual: 18 } }, fields: { isAdult: true } }),
      ).toEqual({
        data: { count: 2 },
        error: undefined,
      });
      expect((await names(db)).filter((user) => user.isAdult).map((user) => user.name)).toEqual(["Ada", "Di"]);
    });

    it("calls a fields function once per document with that document", async () => {
      const { db } = await seed();
      const seen: string[] = [];
      const result = await db.users.updateMany({
        where: { age: { lessThan: 18 } },
        fields: (prev) => {
          seen.push(prev.name);
          expect(prev.id).toMatch(NANOID);
          return { age: (prev.age ?? 0) + 1, nickname: prev.name.toLowerCase() };
        },
      });
      expect(result.data).toEqual({ count: 2 });
      expect(seen.sort()).toEqual(["Bob", "Cy"]);
      expect((await names(db)).map((user) => user.age)).toEqual([36, 18, 13, 50]);
      expect(must(await db.users.query({ where: { nickname: "cy" }, fields: { name: true } }))).toEqual([
        { name: "Cy" },
      ]);
    });

    it("updates every document when where is omitted, and counts zero matches", async () => {
      const { db } = await seed();
      expect(must(await db.users.updateMany({ fields: { isAdult: false } }))).toEqual({ count: 4 });
      let called = false;
      expect(
        must(
          await db.users.updateMany({
            where: { name: "Nobody" },
            fields: () => {
              called = true;
              return {};
            },
          }),
        ),
      ).toEqual({ count: 0 });
      expect(called).toBe(false);
    });

    it("checks object fields before writing anything", async () => {
      const { db } = await seed();
      const { error } = await db.users.updateMany({ fields: { age: 1, isAdult: "no" as never } });
      expect(error?.details?.field).toBe("isAdult");
      expect((await names(db)).map((user) => user.age)).toEqual([36, 17, 12, 50]);
    });

    it("replaceMany replaces every match and accepts a function", async () => {
      const { db } = await seed();
      expect(
        must(
          await db.users.replaceMany({ where: { age: { greaterThan: 30 } }, fields: { name: "Old", isAdult: true } }),
        ),
      ).toEqual({ count: 2 });
      expect(
        must(await db.users.replaceMany({ where: { name: "Old" }, fields: (prev) => ({ name: `${prev.name}!` }) })),
      ).toEqual({
        count: 2,
      });
      expect(await names(db)).toEqual([
        { name: "Bob", age: 17, isAdult: false },
        { name: "Cy", age: 12, isAdult: false },
        { name: "Old!", age: undefined, isAdult: false },
        { name: "Old!", age: undefined, isAdult: false },
      ]);
    });

    it("deleteMany deletes every match and returns { count }", async () => {
      const { db } = await seed();
      expect(must(await db.users.deleteMany({ where: { age: { lessThan: 18 } } }))).toEqual({ count: 2 });
      expect((await names(db)).map((user) => user.name)).toEqual(["Ada", "Di"]);
      expect(must(await db.users.deleteMany({}))).toEqual({ count: 2 });
      expect(must(await db.users.query())).toEqual([]);
    });
  });

  describe("batch", () => {
    it("builders return plain serialisable descriptions", () => {
      const { db } = setup();
      const ops: BatchOperation[] = [
        db.batch.users.create({ name: "Ada", age: 3, prefs: { a: [1, null] } }),
        db.batch.users.update({ id: "u1", fields: { age: 4, nickname: undefined } }),
        db.batch.users.replace({ id: "u1", fields: { name: "B" } }),
        db.batch.users.delete("u1"),
        db.batch.users.updateMany({ where: { age: { greaterThan: 3 } }, fields: { isAdult: true } }),
        db.batch.users.replaceMany({ fields: { name: "C" } }),
        db.batch.posts.deleteMany({ where: { tagIds: "t1" } }),
      ];
      expect(ops).toEqual([
        { kind: "create", collection: "users", fields: { name: "Ada", age: 3, prefs: { a: [1, null] } } },
        { kind: "update", collection: "users", id: "u1", fields: { age: 4, nickname: null } },
        { kind: "replace", collection: "users", id: "u1", fields: { name: "B" } },
        { kind: "delete", collection: "users", id: "u1" },
        { kind: "updateMany", collection: "users", where: { age: { greaterThan: 3 } }, fields: { isAdult: true } },
        { kind: "replaceMany", collection: "users", where: {}, fields: { name: "C" } },
        { kind: "deleteMany", collection: "posts", where: { tagIds: "t1" } },
      ]);
      expect(structuredClone(ops)).toStrictEqual(ops);
      expect(JSON.parse(JSON.stringify(ops))).toStrictEqual(ops);
      for (const op of ops) expect(Object.getPrototypeOf(op)).toBe(Object.prototype);
    });

    it("keeps Dates through structuredClone", () => {
      const { db } = setup();
      const op = db.batch.users.create({ name: "Ada", lastLogin: new Date(5) });
      expect(structuredClone(op)).toEqual(op);
    });

    it("execute runs operations in order and returns each one's result", async () => {
      const { db } = setup({ userId: "alice" });
      const ada = must(await db.users.create({ name: "Ada" }));
      const { data: results, error } = await db.batch.execute([
        db.batch.users.create({ name: "Grace" }),
        db.batch.users.update({ id: ada.id, fields: { age: 40 } }),
        db.batch.users.updateMany({ where: { age: 40 }, fields: { isAdult: true } }),
        db.batch.users.delete("missing"),
        db.batch.tags.create({ name: "t" }),
      ]);
      expect(error).toBeUndefined();
      expect(results).toHaveLength(5);
      expect(results![0]!.data).toMatchObject({ id: expect.stringMatching(NANOID), name: "Grace", createdBy: "alice" });
      expect(results![1]).toEqual({ data: undefined, error: undefined });
      expect(results![2]).toEqual({ data: { count: 1 }, error: undefined });
      expect(results![3]!.error?.code).toBe("NOT_FOUND");
      expect(results![4]!.error).toBeUndefined();
      expect(must(await db.users.queryOne({ where: { id: ada.id } }))).toMatchObject({ age: 40, isAdult: true });
    });

    it("is not atomic: a failing operation in the middle undoes nothing", async () => {
      const { db } = setup();
      const { data: results } = await db.batch.execute([
        db.batch.tags.create({ name: "first" }),
        // @ts-expect-error wrong type
        db.batch.tags.create({ name: 1 }),
        db.batch.tags.update({ id: "missing", fields: { name: "x" } }),
        db.batch.tags.create({ name: "last" }),
      ]);
      expect(results!.map((result) => result.error?.code)).toEqual([undefined, "VALIDATION", "NOT_FOUND", undefined]);
      expect(results![1]!.error?.details?.field).toBe("name");
      expect(must(await db.tags.query({ fields: { name: true }, orderBy: ["name", "asc"] }))).toEqual([
        { name: "first" },
        { name: "last" },
      ]);
    });

    it("keeps removals (undefined fields) through a JSON round trip", async () => {
      const { db } = setup();
      const ada = must(await db.users.create({ name: "Ada", age: 36, nickname: "A" }));
      const op = db.batch.users.update({ id: ada.id, fields: { age: undefined, nickname: undefined, name: "Ada L." } });
      const revived = JSON.parse(JSON.stringify(op)) as BatchOperation;
      expect(revived).toStrictEqual(structuredClone(op));
      const { data: results } = await db.batch.execute([revived]);
      expect(results![0]!.error).toBeUndefined();
      expect(must(await db.users.queryOne({ where: { id: ada.id } }))).toMatchObject({
        name: "Ada L.",
        age: undefined,
        nickname: "anon",
      });
    });

    it("copies the fields it is given, so later changes to them do not leak in", () => {
      const { db } = setup();
      const fields = { name: "Ada", isAdult: true };
      const op = db.batch.users.create(fields);
      fields.name = "Eve";
      expect(op).toMatchObject({ fields: { name: "Ada" } });
    });

    it("runs descriptions that went through JSON", async () => {
      const { db } = setup();
      const ops = JSON.parse(
        JSON.stringify([db.batch.tags.create({ name: "a" }), db.batch.tags.create({ name: "b" })]),
      ) as BatchOperation[];
      const { data: results } = await db.batch.execute(ops);
      expect(results!.every((result) => result.error === undefined)).toBe(true);
      expect(must(await db.tags.query()).length).toBe(2);
    });

    it("reports malformed operations one by one", async () => {
      const { db } = setup();
      const { data: results } = await db.batch.execute([
        null,
        { kind: "create", collection: "nope", fields: {} },
        { kind: "upsert", collection: "tags", fields: {} },
        db.batch.tags.create({ name: "ok" }),
      ] as unknown as BatchOperation[]);
      expect(results!.map((result) => result.error?.code)).toEqual([
        "VALIDATION",
        "VALIDATION",
        "VALIDATION",
        undefined,
      ]);
    });

    it("notifies subscribers once for the whole batch", async () => {
      const { db } = setup();
      const calls: number[] = [];
      db.tags.subscribe({}, (data) => calls.push(data?.length ?? -1));
      await db.batch.execute([
        db.batch.tags.create({ name: "a" }),
        db.batch.tags.create({ name: "b" }),
        db.batch.tags.create({ name: "c" }),
      ]);
      expect(calls).toEqual([0, 3]);
    });
  });

  describe("query", () => {
    async function seeded() {
      const context = setup({ userId: "alice" });
      const ada = must(await context.db.users.create({ name: "Ada", age: 36, prefs: { theme: "dark" } }));
      context.clock.ms += 10;
      const bob = must(await context.db.users.create({ name: "Bob", isAdult: true }));
      return { ...context, ada, bob };
    }

    it("returns every schema field plus id when fields is omitted", async () => {
      const { db, ada } = await seeded();
      const [first] = must(await db.users.query({ orderBy: ["name", "asc"] }));
      expect(first).toEqual({
        id: ada.id,
        name: "Ada",
        age: 36,
        isAdult: false,
        lastLogin: undefined,
        prefs: { theme: "dark" },
        nickname: "anon",
      });
      expect(Object.keys(first!)).not.toContain("createdAt");
    });

    it("returns only the fields set to true; auto fields only when asked", async () => {
      const { db, bob } = await seeded();
      expect(must(await db.users.query({ fields: { name: true }, orderBy: ["name", "asc"] }))).toEqual([
        { name: "Ada" },
        { name: "Bob" },
      ]);
      expect(
        must(
          await db.users.query({
            fields: { id: true, createdAt: true, updatedAt: true, createdBy: true },
            where: { isAdult: true },
          }),
        ),
      ).toEqual([{ id: bob.id, createdAt: new Date(START + 10), updatedAt: new Date(START + 10), createdBy: "alice" }]);
    });

    it("refuses a field set to false with a VALIDATION error, in one-shot and live queries", async () => {
      const { db } = await seeded();
      // @ts-expect-error a field is left out, not set to false
      const { data, error } = await db.users.query({ fields: { name: true, age: false } });
      expect(data).toBeUndefined();
      expect(error).toMatchObject({ code: "VALIDATION", details: { field: "age" } });
      expect(error?.message).toContain("fields.age must be true");
      const errors: unknown[] = [];
      // @ts-expect-error the same in subscribe
      db.users.subscribe({ fields: { age: false } }, (_data: unknown, problem: unknown) => errors.push(problem));
      expect(errors).toEqual([expect.objectContaining({ code: "VALIDATION" })]);
    });

    it("filters and sorts on auto fields", async () => {
      const { db } = await seeded();
      const newest = must(
        await db.users.query({ fields: { name: true }, where: { createdAt: { greaterThan: new Date(START) } } }),
      );
      expect(newest).toEqual([{ name: "Bob" }]);
      const byCreation = must(await db.users.query({ fields: { name: true }, orderBy: ["createdAt", "desc"] }));
      expect(byCreation.map((user) => user.name)).toEqual(["Bob", "Ada"]);
    });

    it("applies where, orderBy and limit together", async () => {
      const { db } = await seeded();
      must(await db.users.create({ name: "Cy", age: 40 }));
      must(await db.users.create({ name: "Jo", age: 30 }));
      const result = must(
        await db.users.query({
          fields: { name: true },
          where: { age: { greaterThan: 25, lessThan: 65 }, name: { notEquals: "Jo" } },
          orderBy: [
            ["age", "desc"],
            ["name", "asc"],
          ],
          limit: 1,
        }),
      );
      expect(result).toEqual([{ name: "Cy" }]);
    });

    it("queryOne returns the first match or undefined", async () => {
      const { db, ada } = await seeded();
      expect(must(await db.users.queryOne({ orderBy: ["name", "asc"], fields: { id: true } }))).toEqual({ id: ada.id });
      expect(must(await db.users.queryOne({ orderBy: ["name", "desc"], fields: { name: true } }))).toEqual({
        name: "Bob",
      });
      expect(must(await db.users.queryOne({ where: { name: "Nobody" } }))).toBeUndefined();
      expect(must(await db.users.queryOne())).toBeDefined();
    });

    it("sees writes at once, before their promise resolves", async () => {
      const { db } = setup();
      const seen: number[] = [];
      const subscription = db.tags.subscribe({ fields: { name: true } }, (data) => seen.push(data?.length ?? -1));
      const pending = db.tags.create({ name: "a" });
      expect(seen).toEqual([0, 1]);
      expect(subscription.getCurrentState().data).toEqual([{ name: "a" }]);
      await pending;
      subscription.unsubscribe();
    });
  });

  describe("refMany", () => {
    it("writes replace the set", async () => {
      const { db } = setup();
      const post = must(await db.posts.create({ title: "a", tagIds: ["t1", "t2", "t1"] }));
      expect([...post.tagIds].sort()).toEqual(["t1", "t2"]);
      const tagsOf = async () => [...must(await db.posts.queryOne({ where: { id: post.id } }))!.tagIds].sort();
      must(await db.posts.update({ id: post.id, fields: { tagIds: ["t2", "t3"] } }));
      expect(await tagsOf()).toEqual(["t2", "t3"]);
      must(await db.posts.update({ id: post.id, fields: (prev) => ({ tagIds: [...prev.tagIds, "t4"] }) }));
      expect(await tagsOf()).toEqual(["t2", "t3", "t4"]);
      must(await db.posts.update({ id: post.id, fields: { tagIds: [] } }));
      expect(await tagsOf()).toEqual([]);
      must(await db.posts.update({ id: post.id, fields: { tagIds: ["t5"] } }));
      must(await db.posts.update({ id: post.id, fields: { tagIds: undefined } }));
      expect(await tagsOf()).toEqual([]);
    });

    it("filters by membership", async () => {
      const { db } = setup();
      must(await db.posts.create({ title: "a", tagIds: ["t1", "t2"] }));
      must(await db.posts.create({ title: "b", tagIds: ["t2"] }));
      must(await db.posts.create({ title: "c" }));
      const titles = async (where: Parameters<typeof db.posts.query>[0]) =>
        must(await db.posts.query({ ...where, fields: { title: true }, orderBy: ["title", "asc"] })).map(
          (post) => post.title,
        );
      expect(await titles({ where: { tagIds: "t1" } })).toEqual(["a"]);
      expect(await titles({ where: { tagIds: { in: ["t1", "t2"] } } })).toEqual(["a", "b"]);
      expect(await titles({ where: { tagIds: { notEquals: "t1" } } })).toEqual(["b", "c"]);
      expect(await titles({ where: { tagIds: { isUndefined: true } } })).toEqual(["c"]);
    });
  });

  describe("detached methods", () => {
    it("write, query and subscribe when called without their collection", async () => {
      const { db } = setup();
      const { create, update, query, subscribe } = db.tags;
      const seen: number[] = [];
      const subscription = subscribe({}, (data) => seen.push(data?.length ?? -1));
      const tag = must(await create({ name: "a" }));
      must(await update({ id: tag.id, fields: { name: "b" } }));
      expect(must(await query({ fields: { name: true } }))).toEqual([{ name: "b" }]);
      expect(seen).toEqual([0, 1, 1]);
      subscription.unsubscribe();
    });
  });

  describe("close", () => {
    it("makes every later call throw, naming the fix", async () => {
      const { client, db } = setup();
      const ada = must(await db.users.create({ name: "Ada" }));
      const op = db.batch.users.delete(ada.id);
      await client.close();
      const calls: Array<() => unknown> = [
        () => db.users.create({ name: "x" }),
        () => db.users.update({ id: ada.id, fields: { age: 1 } }),
        () => db.users.replace({ id: ada.id, fields: { name: "x" } }),
        () => db.users.delete(ada.id),
        () => db.users.updateMany({ fields: { age: 1 } }),
        () => db.users.replaceMany({ fields: { name: "x" } }),
        () => db.users.deleteMany({}),
        () => db.users.query(),
        () => db.users.queryOne(),
        () => db.users.subscribe({}, () => {}),
        () => db.users.subscribeOne({}, () => {}),
        () => db.batch.execute([op]),
      ];
      for (const call of calls) expect(call, String(call)).toThrow(/after close\(\)/);
    });
  });
});
