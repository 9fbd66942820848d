import {
  type BatchApi,
  type BatchOperation,
  createSchema,
  type DatabaseResult,
  type PreloadData,
  t,
} from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import { type AdminClient, createAdminClient } from "../index.js";

const schema = createSchema({
  entities: {
    todos: { title: t.string({ fallback: "" }), done: t.boolean({ fallback: false }), listId: t.ref("lists") },
    lists: { name: t.string({ fallback: "" }) },
  },
});

describe("createAdminClient types", () => {
  const admin = createAdminClient({ schema, serverUrl: "http://127.0.0.1:8787", appId: "app", serviceKey: "tsk_x" });

  it("types every collection of the schema like the client's database", () => {
    expectTypeOf(admin).toEqualTypeOf<AdminClient<typeof schema>>();
    expectTypeOf(admin.asUser("alice")).toEqualTypeOf<AdminClient<typeof schema>>();
    // @ts-expect-error: not a collection of the schema
    void admin.database.users;
    // @ts-expect-error: create needs every required field
    void admin.database.todos.create({ title: "x" });
    // @ts-expect-error: a field of the wrong type
    void admin.database.todos.create({ title: 1, done: false, listId: "l" });
  });

  it("narrows query results to the fields and relations asked for", async () => {
    const created = await admin.database.todos.create(
      { title: "x", done: false, listId: "l1" },
      { createdBy: "alice" },
    );
    expectTypeOf(created.data?.title).toEqualTypeOf<string | undefined>();
    expectTypeOf(created.data?.createdAt).toEqualTypeOf<Date | undefined>();
    const picked = await admin.database.todos.query({
      fields: { title: true, listId: { fields: { name: true } } },
      where: { done: false },
    });
    expectTypeOf(picked.data).toEqualTypeOf<{ title: string; listId: { name: string } | undefined }[] | undefined>();
    const counted = await admin.database.todos.queryOne({ aggregations: { n: { count: "*" } } });
    expectTypeOf(counted.data?.n).toEqualTypeOf<number | undefined>();
    // @ts-expect-error: an unknown field in where
    void admin.database.todos.query({ where: { nope: 1 } });
    expectTypeOf(
      await admin.database.todos.updateMany({ where: { done: true }, fields: { done: false } }),
    ).toEqualTypeOf<DatabaseResult<{ count: number }>>();
  });

  it("types preloads for the client's subscribe, subscribeOne and paginated", async () => {
    const many = await admin.database.todos.preload({ fields: { title: true } });
    expectTypeOf(many.data).toEqualTypeOf<PreloadData<{ title: string }, "many"> | undefined>();
    const one = await admin.database.todos.preloadOne({ where: { done: true } });
    expectTypeOf(one.data).toMatchTypeOf<PreloadData<{ title: string; done: boolean }, "one"> | undefined>();
    const page = await admin.database.todos.preloadPaginated({
      orderBy: ["title", "asc"],
      pageSize: 20,
      fields: { title: true },
    });
    expectTypeOf(page.data).toEqualTypeOf<PreloadData<{ title: string }, "paginated"> | undefined>();
    // @ts-expect-error: pages take pageSize, not limit
    void admin.database.todos.preloadPaginated({ pageSize: 20, limit: 5 });
  });

  it("types batch builders and execute like the client's database.batch", async () => {
    const { batch } = admin.database;
    expectTypeOf(batch).toEqualTypeOf<BatchApi<(typeof schema)["entities"]>>();
    expectTypeOf(admin.asUser("alice").database.batch).toEqualTypeOf<BatchApi<(typeof schema)["entities"]>>();
    expectTypeOf(batch.todos.create({ title: "x", done: false, listId: "l1" })).toEqualTypeOf<BatchOperation>();
    expectTypeOf(batch.lists.deleteMany({ where: { name: { startsWith: "old" } } })).toEqualTypeOf<BatchOperation>();
    const results = await batch.execute([
      batch.todos.update({ id: "t1", fields: { done: true } }),
      batch.lists.delete("l1"),
    ]);
    expectTypeOf(results).toEqualTypeOf<DatabaseResult<DatabaseResult<unknown>[]>>();
    // @ts-expect-error: create needs every required field
    void batch.todos.create({ title: "x" });
    // @ts-expect-error: a field of the wrong type
    void batch.todos.update({ id: "t1", fields: { done: "yes" } });
    // @ts-expect-error: an unknown field in where
    void batch.todos.updateMany({ where: { nope: 1 }, fields: { done: true } });
    // @ts-expect-error: not a collection of the schema
    void batch.users;
    // @ts-expect-error: execute takes operation descriptions
    void batch.execute([{ kind: "drop", collection: "todos" }]);
  });
});
