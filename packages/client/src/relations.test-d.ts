import { createSchema, t } from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import { createClient } from "./index.js";

const schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }), age: t.number({ optional: true }) },
    posts: { title: t.string({ fallback: "" }), authorId: t.ref("users"), tagIds: t.refMany("tags") },
    tags: { name: t.string({ fallback: "" }) },
  },
});
const db = createClient({ schema }).database;

describe("relation result types", () => {
  it("types a forward ref as a document or undefined", async () => {
    const { data } = await db.posts.query({ fields: { title: true, authorId: { fields: { name: true, age: true } } } });
    expectTypeOf(data!).toEqualTypeOf<
      { title: string; authorId: { name: string; age: number | undefined } | undefined }[]
    >();
  });

  it("types a refMany and a reverse relation as arrays, nesting further", async () => {
    const { data } = await db.users.queryOne({
      fields: {
        id: true,
        posts: {
          fields: { title: true, tagIds: { fields: { name: true } } },
          where: { title: { startsWith: "a" } },
          limit: 3,
        },
      },
    });
    expectTypeOf(data!).toEqualTypeOf<{ id: string; posts: { title: string; tagIds: { name: string }[] }[] }>();
  });

  it("keeps `true` on a ref field as the id", async () => {
    const { data } = await db.posts.query({ fields: { authorId: true } });
    expectTypeOf(data!).toEqualTypeOf<{ authorId: string | undefined }[]>();
  });

  it("rejects nested queries on plain fields and unknown fields inside nested queries", () => {
    // @ts-expect-error a string field takes no nested query
    void db.posts.query({ fields: { title: { fields: { name: true } } } });
    // @ts-expect-error users have no field "nope"
    void db.posts.query({ fields: { authorId: { fields: { nope: true } } } });
  });

  it("checks a nested query's keys as the top level's, next to known ones too", async () => {
    const { data } = await db.users.query({
      fields: { posts: { fields: { title: true }, where: { title: "a", or: [{}, { tagIds: "t" }] }, via: "authorId" } },
    });
    expectTypeOf(data!).toEqualTypeOf<{ posts: { title: string }[] }[]>();
    // @ts-expect-error users have no field "email", next to the known "name"
    void db.posts.query({ fields: { authorId: { fields: { name: true, email: true } } } });
    // @ts-expect-error tags have no field "bogus", in a refMany's nested query
    void db.posts.query({ fields: { tagIds: { fields: { name: true, bogus: true } } } });
    // @ts-expect-error unknown option next to a known one
    void db.users.query({ fields: { posts: { fields: { title: true }, sort: 1 } } });
    // @ts-expect-error unknown option next to via
    void db.users.query({ fields: { posts: { via: "authorId", bogus: 1 } } });
    // @ts-expect-error users have no field "email" in where, next to the known "name"
    void db.posts.query({ fields: { authorId: { where: { name: "x", email: "x" } } } });
    // @ts-expect-error a number field takes no startsWith, next to a valid operator
    void db.posts.query({ fields: { authorId: { where: { age: { greaterThan: 1, startsWith: "x" } } } } });
    // @ts-expect-error unknown field inside or, in a nested query
    void db.posts.query({ fields: { authorId: { where: { or: [{ name: "x", email: 1 }] } } } });
    // @ts-expect-error nested fields take true, not false
    void db.posts.query({ fields: { authorId: { fields: { name: false } } } });
  });
});

describe("relational filter types", () => {
  it("takes { where } on ref and refMany fields and { where, via } on entity names, nesting further", () => {
    void db.posts.query({ where: { authorId: { where: { age: { greaterThan: 30 } } } } });
    void db.posts.query({
      where: { tagIds: { where: { name: "news" } }, not: { authorId: { where: { name: "bot" } } } },
    });
    void db.users.query({
      where: { posts: { where: { tagIds: { where: { name: { startsWith: "a" } } } }, via: "authorId" } },
    });
    void db.users.subscribe({ where: { or: [{ posts: { where: {} } }, { age: 3 }] } }, () => {});
    void db.posts.deleteMany({ where: { authorId: { where: { name: "gone" } } } });
    void db.posts.query({ aggregations: { n: { count: "*" } }, where: { authorId: { where: { age: 1 } } } });
  });

  it("rejects unknown fields, operators and options inside relational filters", () => {
    // @ts-expect-error users have no field "nope"
    void db.posts.query({ where: { authorId: { where: { nope: 1 } } } });
    // @ts-expect-error a number field takes no startsWith
    void db.posts.query({ where: { authorId: { where: { age: { startsWith: "1" } } } } });
    // @ts-expect-error a forward filter takes no limit
    void db.posts.query({ where: { authorId: { where: {}, limit: 1 } } });
    // @ts-expect-error a string field takes no relational filter
    void db.posts.query({ where: { title: { where: {} } } });
    // @ts-expect-error tags have no field "title"
    void db.users.query({ where: { posts: { where: { tagIds: { where: { title: "x" } } } } } });
  });
});
