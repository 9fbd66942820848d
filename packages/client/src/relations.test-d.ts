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
