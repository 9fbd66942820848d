import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { createClient } from "./index.js";

const schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }) },
    posts: {
      title: t.string({ fallback: "" }),
      published: t.boolean({ fallback: false }),
      authorId: t.ref("users"),
      editorId: t.ref("users"),
      tagIds: t.refMany("tags"),
    },
    tags: { name: t.string({ fallback: "" }) },
    comments: { text: t.string({ fallback: "" }), postId: t.ref("posts") },
  },
});

async function setup() {
  const client = createClient({ schema });
  const db = client.database;
  const ada = (await db.users.create({ name: "Ada" })).data!;
  const bob = (await db.users.create({ name: "Bob" })).data!;
  const red = (await db.tags.create({ name: "red" })).data!;
  const blue = (await db.tags.create({ name: "blue" })).data!;
  const p1 = (await db.posts.create({ title: "one", published: true, authorId: ada.id, tagIds: [red.id, blue.id] }))
    .data!;
  const p2 = (await db.posts.create({ title: "two", published: false, authorId: ada.id, tagIds: [blue.id] })).data!;
  const p3 = (await db.posts.create({ title: "three", published: true, authorId: bob.id, editorId: ada.id })).data!;
  return { client, db, ada, bob, red, blue, p1, p2, p3 };
}

describe("relations", () => {
  it("returns the referenced document of a ref, filtered by the nested where", async () => {
    const { db } = await setup();
    const { data } = await db.posts.query({
      fields: { title: true, authorId: { fields: { name: true }, where: { name: { startsWith: "A" } } } },
      orderBy: ["title", "asc"],
    });
    expect(data).toEqual([
      { title: "one", authorId: { name: "Ada" } },
      { title: "three", authorId: undefined },
      { title: "two", authorId: { name: "Ada" } },
    ]);
  });

  it("returns refMany targets as an array with nested orderBy and limit", async () => {
    const { db } = await setup();
    const { data } = await db.posts.queryOne({
      fields: { title: true, tagIds: { fields: { name: true }, orderBy: ["name", "desc"], limit: 5 } },
      where: { title: "one" },
    });
    expect(data).toEqual({ title: "one", tagIds: [{ name: "red" }, { name: "blue" }] });
  });

  it("returns reverse relations through the one ref pointing back, or the one named with via", async () => {
    const { db } = await setup();
    const ambiguous = await db.users.query({ fields: { name: true, posts: { fields: { title: true } } } });
    expect(ambiguous.error?.code).toBe("VALIDATION");
    expect(ambiguous.error?.message).toContain("via");
    const { data } = await db.users.query({
      fields: {
        name: true,
        posts: { via: "authorId", fields: { title: true }, where: { published: true }, orderBy: ["title", "asc"] },
      },
      orderBy: ["name", "asc"],
    });
    expect(data).toEqual([
      { name: "Ada", posts: [{ title: "one" }] },
      { name: "Bob", posts: [{ title: "three" }] },
    ]);
    const tags = await db.tags.query({
      fields: { name: true, posts: { fields: { title: true }, orderBy: ["title", "asc"] } },
      orderBy: ["name", "asc"],
    });
    expect(tags.data).toEqual([
      { name: "blue", posts: [{ title: "one" }, { title: "two" }] },
      { name: "red", posts: [{ title: "one" }] },
    ]);
  });

  it("keeps a users-with-posts subscription live across title changes, re-pointing and deletes", async () => {
    const { db, ada, bob, p1, p2 } = await setup();
    const calls: unknown[] = [];
    db.users.subscribe(
      {
        fields: { name: true, posts: { via: "authorId", fields: { title: true }, orderBy: ["title", "asc"] } },
        orderBy: ["name", "asc"],
      },
      (data) => calls.push(data),
    );
    const last = () => calls.at(-1) as Array<{ name: string; posts: Array<{ title: string }> }>;
    expect(last()[0]!.posts.map((p) => p.title)).toEqual(["one", "two"]);
    await db.posts.update({ id: p1.id, fields: { title: "uno" } });
    expect(last()[0]!.posts.map((p) => p.title)).toEqual(["two", "uno"]);
    await db.posts.update({ id: p2.id, fields: { authorId: bob.id } });
    expect(last().map((u) => u.posts.map((p) => p.title))).toEqual([["uno"], ["three", "two"]]);
    await db.posts.delete(p1.id);
    expect(last()[0]!.posts).toEqual([]);
    const count = calls.length;
    await db.posts.update({ id: p2.id, fields: { published: true } }); // not selected, filtered or sorted
    expect(calls.length).toBe(count);
    await db.users.update({ id: ada.id, fields: { name: "Ada L." } });
    expect(last()[0]!.name).toBe("Ada L.");
  });

  // Found by relation-fuzz.test.ts: subscribing to a forward relation threw (the live query
  // looked up the read rule of the link field, which the normalized query lacked).
  it("keeps a forward ref subscription live across target changes, re-pointing and deletes", async () => {
    const { db, ada, bob, p3 } = await setup();
    const calls: unknown[] = [];
    db.posts.subscribe(
      { fields: { title: true, authorId: { fields: { name: true } } }, where: { id: p3.id } },
      (data) => calls.push(data),
    );
    expect(calls.at(-1)).toEqual([{ title: "three", authorId: { name: "Bob" } }]);
    await db.users.update({ id: bob.id, fields: { name: "Bobby" } });
    expect(calls.at(-1)).toEqual([{ title: "three", authorId: { name: "Bobby" } }]);
    await db.posts.update({ id: p3.id, fields: { authorId: ada.id } });
    expect(calls.at(-1)).toEqual([{ title: "three", authorId: { name: "Ada" } }]);
    await db.users.delete(ada.id);
    expect(calls.at(-1)).toEqual([{ title: "three", authorId: undefined }]);
  });

  it("shares one related document among the parents linking it, in one-shot and live results", async () => {
    const { db } = await setup();
    const query = { fields: { title: true, authorId: { fields: { name: true } } }, orderBy: ["title", "asc"] } as const;
    const { data } = await db.posts.query(query);
    expect(data!.map((post) => post.title)).toEqual(["one", "three", "two"]);
    expect(data![0]!.authorId).toBe(data![2]!.authorId);
    let live: typeof data;
    db.posts.subscribe(query, (docs) => (live = docs as typeof data));
    expect(live!).toEqual(data);
    expect(live![0]!.authorId).toBe(live![2]!.authorId);
  });

  it("follows nested relations two levels deep", async () => {
    const { db, p3 } = await setup();
    const calls: unknown[] = [];
    db.users.subscribe(
      {
        fields: {
          name: true,
          posts: { via: "authorId", fields: { title: true, comments: { fields: { text: true } } } },
        },
        where: { name: "Bob" },
      },
      (data) => calls.push(data),
    );
    expect(calls.at(-1)).toEqual([{ name: "Bob", posts: [{ title: "three", comments: [] }] }]);
    const comment = (await db.comments.create({ text: "hi", postId: p3.id })).data!;
    expect(calls.at(-1)).toEqual([{ name: "Bob", posts: [{ title: "three", comments: [{ text: "hi" }] }] }]);
    await db.comments.update({ id: comment.id, fields: { text: "hello" } });
    expect(calls.at(-1)).toEqual([{ name: "Bob", posts: [{ title: "three", comments: [{ text: "hello" }] }] }]);
  });
});
