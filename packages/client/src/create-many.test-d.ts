import { createSchema, type DatabaseResult, type Doc, t } from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import { type BatchOperation, createClient } from "./index.js";

const schema = createSchema({
  entities: {
    users: {
      name: t.string({ fallback: "" }),
      age: t.number({ optional: true }),
      isAdult: t.boolean({ fallback: false }),
    },
  },
});
type Users = typeof schema.entities.users;

const db = createClient({ schema }).database;

describe("createMany", () => {
  it("returns the whole documents by default", () => {
    expectTypeOf(db.users.createMany([{ name: "Ada", isAdult: true }])).toEqualTypeOf<
      Promise<DatabaseResult<Doc<Users>[]>>
    >();
    expectTypeOf(db.users.createMany([], { returnDocuments: true })).toEqualTypeOf<
      Promise<DatabaseResult<Doc<Users>[]>>
    >();
  });

  it("returns { count } with returnDocuments: false", () => {
    expectTypeOf(db.users.createMany([{ name: "Ada", isAdult: true }], { returnDocuments: false })).toEqualTypeOf<
      Promise<DatabaseResult<{ count: number }>>
    >();
  });

  it("returns either when returnDocuments is only known at run time", () => {
    const returnDocuments = Math.random() > 0.5;
    expectTypeOf(db.users.createMany([], { returnDocuments })).toEqualTypeOf<
      Promise<DatabaseResult<Doc<Users>[] | { count: number }>>
    >();
  });

  it("checks every document like create", () => {
    db.users.createMany([
      { name: "Ada", isAdult: true },
      { name: "Bo", isAdult: false, age: 3 },
    ]);
    // @ts-expect-error isAdult is required
    db.users.createMany([{ name: "Ada" }]);
    // @ts-expect-error unknown field
    db.users.createMany([{ name: "Ada", isAdult: true, email: "x" }]);
    // @ts-expect-error wrong value type
    db.users.createMany([{ name: 1, isAdult: true }]);
    // @ts-expect-error auto fields other than id are read-only
    db.users.createMany([{ name: "Ada", isAdult: true, createdAt: new Date() }]);
    // @ts-expect-error takes an array
    db.users.createMany({ name: "Ada", isAdult: true });
    // @ts-expect-error unknown option
    db.users.createMany([], { returnDocs: false });
  });

  it("has a batch builder that returns an operation", () => {
    expectTypeOf(db.batch.users.createMany([{ name: "A", isAdult: true }])).toEqualTypeOf<BatchOperation>();
    expectTypeOf(
      db.batch.users.createMany([{ id: "u1", name: "A", isAdult: true }], { returnDocuments: false }),
    ).toEqualTypeOf<BatchOperation>();
    // @ts-expect-error batch createMany checks fields like createMany
    db.batch.users.createMany([{ name: "A", isAdult: true, email: "x" }]);
  });
});

describe("custom ids", () => {
  it("create and createMany take an optional string id", () => {
    db.users.create({ id: "ada", name: "Ada", isAdult: true });
    db.users.createMany([
      { id: "ada", name: "Ada", isAdult: true },
      { name: "Bo", isAdult: false },
    ]);
    db.batch.users.create({ id: "ada", name: "Ada", isAdult: true });
    // @ts-expect-error ids are strings
    db.users.create({ id: 1, name: "Ada", isAdult: true });
    // @ts-expect-error ids are strings
    db.users.createMany([{ id: 1, name: "Ada", isAdult: true }]);
  });

  it("the created document's id is a string", async () => {
    const { data } = await db.users.create({ id: "ada", name: "Ada", isAdult: true });
    expectTypeOf(data?.id).toEqualTypeOf<string | undefined>();
  });

  it("replace and update take no id among the fields", () => {
    // @ts-expect-error replace's fields have no id
    db.users.replace({ id: "u", fields: { id: "other", name: "A", isAdult: true } });
    // @ts-expect-error update's fields have no id
    db.users.update({ id: "u", fields: { id: "other" } });
  });
});
