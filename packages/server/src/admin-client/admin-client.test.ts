import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BatchOperation, createSchema, ok, t } from "@trellis/core";
import { createAdminClient } from "@trellis/server";
import { removeDataDir, type ServerProcess, startServerProcess, tempDataDir } from "@trellis/server/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCall, closeAllSockets, connect, query } from "../testing/raw-socket.js";

// createAdminClient against a real server process in production mode with owner-only rules:
// privileged reads and writes past the rules, the same as a user under them, typed by the schema.

const SECRET = "an-admin-secret-for-the-admin-client";
const schema = createSchema({
  entities: {
    todos: { title: t.string({ fallback: "" }), done: t.boolean({ fallback: false }), tags: t.refMany("tags") },
    tags: { label: t.string({ fallback: "" }) },
  },
});
const OWNER_ONLY = {
  todos: {
    read: { createdBy: "$user.id" },
    create: { createdBy: "$user.id" },
    update: { createdBy: "$user.id" },
    delete: { createdBy: "$user.id" },
  },
  tags: { read: true, create: true },
};
let server: ServerProcess;
let appId: string;
let serviceKey: string;

beforeAll(async () => {
  const dataDir = tempDataDir();
  writeFileSync(join(dataDir, "rules.json"), JSON.stringify(OWNER_ONLY));
  server = await startServerProcess({
    dataDir,
    args: ["--admin-secret", SECRET, "--permissions", join(dataDir, "rules.json")],
  });
  appId = (await adminCall(server.url, SECRET, "POST", "", { name: "Admin client" })).body.id;
  serviceKey = (await adminCall(server.url, SECRET, "POST", `/${appId}/keys`, { name: "tests" })).body.key;
});

afterAll(async () => {
  await closeAllSockets();
  await server.stop();
  removeDataDir(server.dataDir);
});

describe("createAdminClient", () => {
  it("reads and writes past the rules, and its writes reach live clients", async () => {
    const admin = createAdminClient({ schema, serverUrl: server.url, appId, serviceKey });
    // Alice follows her todos over a live connection.
    const alice = await connect(server.url, appId, { userId: "alice" });
    alice.send({ type: "subscribe", queryId: "mine", query: query("todos"), cursor: null });
    await alice.next("snapshot");

    const created = await admin.database.todos.create({ title: "for alice", done: false }, { createdBy: "alice" });
    expect(created.error).toBeUndefined();
    expect(created.data).toMatchObject({
      title: "for alice",
      done: false,
      createdBy: "alice",
      id: expect.stringMatching(/^[A-Za-z0-9_-]{21}$/),
    });
    const changes = await alice.next("changes");
    expect(changes.triples.map((triple) => triple.id)).toContain(created.data!.id);
    const forBob = (await admin.database.todos.create({ title: "for bob", done: false }, { createdBy: "bob" })).data!;
    const ownerless = (await admin.database.todos.create({ title: "nobody's", done: false })).data!;
    expect(ownerless.createdBy).toBeUndefined();

    const all = await admin.database.todos.query({ orderBy: ["title", "asc"], fields: { title: true } });
    expect(all.data).toEqual([{ title: "for alice" }, { title: "for bob" }, { title: "nobody's" }]);
    expect((await admin.database.todos.queryOne({ where: { title: "for bob" } })).data?.id).toBe(forBob.id);
    expect((await admin.database.todos.query({ aggregations: { n: { count: "*" } } })).data).toEqual([{ n: 3 }]);

    expect(
      (await admin.database.todos.update({ id: forBob.id, fields: (previous) => ({ title: `${previous.title}!` }) }))
        .error,
    ).toBeUndefined();
    expect((await admin.database.todos.queryOne({ where: { id: forBob.id } })).data?.title).toBe("for bob!");
    expect(
      (await admin.database.todos.replace({ id: forBob.id, fields: { title: "replaced", done: false } })).error,
    ).toBeUndefined();
    expect((await admin.database.todos.updateMany({ where: { done: false }, fields: { done: true } })).data).toEqual({
      count: 3,
    });
    expect((await admin.database.todos.deleteMany({ where: { title: "nobody's" } })).data).toEqual({ count: 1 });
    expect((await admin.database.todos.delete(forBob.id)).error).toBeUndefined();
    expect((await admin.database.todos.query({ fields: { title: true, done: true } })).data).toEqual([
      { title: "for alice", done: true },
    ]);

    expect((await admin.database.todos.update({ id: "missing", fields: { title: "x" } })).error?.code).toBe(
      "NOT_FOUND",
    );
    expect((await admin.database.todos.create({ title: 42 as unknown as string, done: false })).error?.code).toBe(
      "VALIDATION",
    );
  });

  it("acts as a user under the rules with asUser", async () => {
    const admin = createAdminClient({ schema, serverUrl: server.url, appId, serviceKey });
    const alicesTodo = (await admin.database.todos.create({ title: "alice's", done: false }, { createdBy: "alice" }))
      .data!;
    const bob = admin.asUser("bob");
    const mine = (await bob.database.todos.create({ title: "bob's", done: false })).data!;
    expect(mine.createdBy).toBe("bob");
    const seen = await bob.database.todos.query({ fields: { title: true } });
    expect(seen.data).toEqual([{ title: "bob's" }]);
    // Alice's todo is not Bob's to read, so not his to change.
    expect((await bob.database.todos.update({ id: alicesTodo.id, fields: { title: "taken" } })).error?.code).toBe(
      "NOT_FOUND",
    );
    expect(
      (await bob.database.todos.create({ title: "as alice", done: false }, { createdBy: "alice" })).error?.code,
    ).toBe("VALIDATION");
    expect((await admin.database.todos.queryOne({ where: { id: alicesTodo.id } })).data?.title).toBe("alice's");

    const revoked = createAdminClient({
      schema,
      serverUrl: server.url,
      appId,
      serviceKey: "tsk_AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    });
    expect((await revoked.database.todos.query()).error?.code).toBe("UNAUTHORIZED");
    expect(() => createAdminClient({ schema, serverUrl: server.url, appId, serviceKey: "" })).toThrow(/serviceKey/);
  });

  describe("batch", () => {
    it("runs its operations in order past the rules, and its writes reach live clients", async () => {
      const admin = createAdminClient({ schema, serverUrl: server.url, appId, serviceKey });
      const { batch } = admin.database;
      const carol = await connect(server.url, appId, { userId: "carol" });
      carol.send({ type: "subscribe", queryId: "carols", query: query("todos"), cursor: null });
      carol.send({ type: "subscribe", queryId: "tags", query: query("tags"), cursor: null });
      await carol.next("snapshot", (message) => message.queryId === "carols");
      await carol.next("snapshot", (message) => message.queryId === "tags");
      const kept = (await admin.database.todos.create({ title: "carol's", done: false }, { createdBy: "carol" })).data!;
      const gone = (await admin.database.todos.create({ title: "carol's old", done: false }, { createdBy: "carol" }))
        .data!;
      await carol.next("changes", (message) => message.triples.some((triple) => triple.id === gone.id));

      const { data: results, error } = await batch.execute([
        batch.tags.create({ label: "batched" }),
        batch.todos.update({ id: kept.id, fields: { title: "carol's, renamed" } }),
        // Reads what the operation before it wrote.
        batch.todos.updateMany({ where: { title: "carol's, renamed" }, fields: { done: true } }),
        batch.todos.delete(gone.id),
        batch.todos.delete(gone.id),
      ]);
      expect(error).toBeUndefined();
      expect(results).toHaveLength(5);
      const tag = results![0]!.data as { id: string; label: string; createdBy?: string };
      expect(tag).toMatchObject({ label: "batched", id: expect.stringMatching(/^[A-Za-z0-9_-]{21}$/) });
      expect(tag.createdBy).toBeUndefined();
      expect(results!.slice(1, 4)).toEqual([ok(undefined), ok({ count: 1 }), ok(undefined)]);
      expect(results![4]!.error?.code).toBe("NOT_FOUND");

      expect(
        (await admin.database.todos.queryOne({ where: { id: kept.id }, fields: { title: true, done: true } })).data,
      ).toEqual({ title: "carol's, renamed", done: true });
      expect((await admin.database.todos.queryOne({ where: { id: gone.id } })).data).toBeUndefined();
      for (const id of [tag.id, kept.id, gone.id])
        await carol.next("changes", (message) => message.triples.some((triple) => triple.id === id));
    });

    it("under asUser, stores the operations the rules allow and says which one they refused", async () => {
      const admin = createAdminClient({ schema, serverUrl: server.url, appId, serviceKey });
      const shared = (await admin.database.tags.create({ label: "shared" })).data!;
      const dave = admin.asUser("dave");
      const { batch } = dave.database;
      const { data: results, error } = await batch.execute([
        batch.todos.create({ title: "dave's first", done: false }),
        // Anyone may create and read tags; nobody but privileged code may change one.
        batch.tags.update({ id: shared.id, fields: { label: "taken" } }),
        batch.todos.create({ title: "dave's second", done: false }),
        batch.todos.updateMany({ where: { title: "dave's first" }, fields: { done: true } }),
      ]);
      expect(error).toBeUndefined();
      expect(results![0]!.data).toMatchObject({ title: "dave's first", createdBy: "dave" });
      expect(results![1]!.error?.code).toBe("UNAUTHORIZED");
      expect(results![2]!.data).toMatchObject({ title: "dave's second", createdBy: "dave" });
      expect(results![3]).toEqual(ok({ count: 1 }));
      expect(
        (await dave.database.todos.query({ orderBy: ["title", "asc"], fields: { title: true, done: true } })).data,
      ).toEqual([
        { title: "dave's first", done: true },
        { title: "dave's second", done: false },
      ]);
      expect((await admin.database.tags.queryOne({ where: { id: shared.id } })).data?.label).toBe("shared");
    });

    it("answers a bad operation with VALIDATION and runs the ones around it", async () => {
      const admin = createAdminClient({ schema, serverUrl: server.url, appId, serviceKey });
      const { batch } = admin.database;
      const { data: results, error } = await batch.execute([
        batch.tags.create({ label: "before" }),
        batch.tags.create({ label: 7 as unknown as string }),
        { kind: "rename", collection: "tags", id: "x" } as unknown as BatchOperation,
        { kind: "create", collection: "nope", fields: {} },
        batch.tags.create({ label: "after" }),
      ]);
      expect(error).toBeUndefined();
      expect(results!.map((result) => result.error?.code)).toEqual([
        undefined,
        "VALIDATION",
        "VALIDATION",
        "VALIDATION",
        undefined,
      ]);
      const labels = (
        await admin.database.tags.query({
          where: { label: { in: ["before", "after"] } },
          orderBy: ["label", "asc"],
          fields: { label: true },
        })
      ).data;
      expect(labels).toEqual([{ label: "after" }, { label: "before" }]);
      expect((await batch.execute("ops" as unknown as BatchOperation[])).error?.code).toBe("VALIDATION");
    });
  });

  it("createMany creates all or none, and refuses an id the server holds", async () => {
    const admin = createAdminClient({ schema, serverUrl: server.url, appId, serviceKey });
    const created = await admin.database.tags.createMany([{ id: "bulk-a", label: "a" }, { label: "b" }]);
    expect(created.error).toBeUndefined();
    expect(created.data!.map((tag) => tag.label)).toEqual(["a", "b"]);
    expect(created.data![0]!.id).toBe("bulk-a");
    // The id is read from the server first: taken there, so nothing of this call is written.
    const again = await admin.database.tags.createMany([{ label: "c" }, { id: "bulk-a", label: "copy" }], {
      returnDocuments: false,
    });
    expect(again.error).toMatchObject({ code: "VALIDATION", details: { index: 1, id: "bulk-a" } });
    expect((await admin.database.tags.queryOne({ where: { id: "bulk-a" } })).data?.label).toBe("a");
    expect((await admin.database.tags.query({ where: { label: "c" } })).data).toEqual([]);
    const counted = await admin.database.tags.createMany([{ label: "d" }], { returnDocuments: false });
    expect(counted.data).toEqual({ count: 1 });
  });
});
