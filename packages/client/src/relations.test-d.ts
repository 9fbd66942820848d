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
    expectTypeOf(data!).toEqualTypeOf<{ title: string; authorId: { name: string; age: number | undefined } | undefined }[]>();
  });

  it("types a refMany and a reverse relation as arrays, nesting further", async () => {
    const { data } = await db.users.queryOne({
      fields: { id: true, posts: { fields: { title: true, tagIds: { fields: { name: true } } }, where: { title: { startsWith: "a" } }, limit: 3 } },
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
