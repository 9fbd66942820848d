import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSchema, t } from "@trellis/core";
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
  todos: { read: { createdBy: "$user.id" }, create: { createdBy: "$user.id" }, update: { createdBy: "$user.id" }, delete: { createdBy: "$user.id" } },
  tags: { read: true, create: true },
};
let server: ServerProcess;
let appId: string;
let serviceKey: string;

beforeAll(async () => {
  const dataDir = tempDataDir();
  writeFileSync(join(dataDir, "rules.json"), JSON.stringify(OWNER_ONLY));
  server = await startServerProcess({ dataDir, args: ["--admin-secret", SECRET, "--permissions", join(dataDir, "rules.json")] });
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
    expect(created.data).toMatchObject({ title: "for alice", done: false, createdBy: "alice", id: expect.stringMatching(/^[A-Za-z0-9_-]{21}$/) });
    const changes = await alice.next("changes");
    expect(changes.triples.map((triple) => triple.id)).toContain(created.data!.id);
    const forBob = (await admin.database.todos.create({ title: "for bob", done: false }, { createdBy: "bob" })).data!;
    const ownerless = (await admin.database.todos.create({ title: "nobody's", done: false })).data!;
    expect(ownerless.createdBy).toBeUndefined();

    const all = await admin.database.todos.query({ orderBy: ["title", "asc"], fields: { title: true } });
    expect(all.data).toEqual([{ title: "for alice" }, { title: "for bob" }, { title: "nobody's" }]);
    expect((await admin.database.todos.queryOne({ where: { title: "for bob" } })).data?.id).toBe(forBob.id);
    expect((await admin.database.todos.query({ aggregations: { n: { count: "*" } } })).data).toEqual([{ n: 3 }]);

    expect((await admin.database.todos.update({ id: forBob.id, fields: (previous) => ({ title: `${previous.title}!` }) })).error).toBeUndefined();
    expect((await admin.database.todos.queryOne({ where: { id: forBob.id } })).data?.title).toBe("for bob!");
    expect((await admin.database.todos.replace({ id: forBob.id, fields: { title: "replaced", done: false } })).error).toBeUndefined();
    expect((await admin.database.todos.updateMany({ where: { done: false }, fields: { done: true } })).data).toEqual({ count: 3 });
    expect((await admin.database.todos.deleteMany({ where: { title: "nobody's" } })).data).toEqual({ count: 1 });
    expect((await admin.database.todos.delete(forBob.id)).error).toBeUndefined();
    expect((await admin.database.todos.query({ fields: { title: true, done: true } })).data).toEqual([{ title: "for alice", done: true }]);

    expect((await admin.database.todos.update({ id: "missing", fields: { title: "x" } })).error?.code).toBe("NOT_FOUND");
    expect((await admin.database.todos.create({ title: 42 as unknown as string, done: false })).error?.code).toBe("VALIDATION");
  });

  it("acts as a user under the rules with asUser", async () => {
    const admin = createAdminClient({ schema, serverUrl: server.url, appId, serviceKey });
    const alicesTodo = (await admin.database.todos.create({ title: "alice's", done: false }, { createdBy: "alice" })).data!;
    const bob = admin.asUser("bob");
    const mine = (await bob.database.todos.create({ title: "bob's", done: false })).data!;
    expect(mine.createdBy).toBe("bob");
    const seen = await bob.database.todos.query({ fields: { title: true } });
    expect(seen.data).toEqual([{ title: "bob's" }]);
    // Alice's todo is not Bob's to read, so not his to change.
    expect((await bob.database.todos.update({ id: alicesTodo.id, fields: { title: "taken" } })).error?.code).toBe("NOT_FOUND");
    expect((await bob.database.todos.create({ title: "as alice", done: false }, { createdBy: "alice" })).error?.code).toBe("VALIDATION");
    expect((await admin.database.todos.queryOne({ where: { id: alicesTodo.id } })).data?.title).toBe("alice's");

    const revoked = createAdminClient({ schema, serverUrl: server.url, appId, serviceKey: "tsk_AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB" });
    expect((await revoked.database.todos.query()).error?.code).toBe("UNAUTHORIZED");
    expect(() => createAdminClient({ schema, serverUrl: server.url, appId, serviceKey: "" })).toThrow(/serviceKey/);
  });
});
