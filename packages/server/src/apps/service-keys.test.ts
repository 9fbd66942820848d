import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeDataDir, type ServerProcess, startServerProcess, tempDataDir } from "@trellis/server/testing";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCall, documentTriples, post, query, writer } from "../testing/raw-socket.js";
import { runCli } from "../testing/run-cli.js";

// Service keys against a real server process in production mode, with JWT auth and rules: a key
// reads and writes its own app past the rules, or as a user under them, and nothing else.

const SECRET = "an-admin-secret-for-service-keys";
const JWT_SECRET = "a-jwt-secret-for-the-service-key-tests";
const OWNER_ONLY = {
  todos: {
    read: { createdBy: "$user.id" },
    create: { createdBy: "$user.id" },
    update: { createdBy: "$user.id" },
    delete: { createdBy: "$user.id" },
  },
};
const hlc = writer("service");
let server: ServerProcess;

beforeAll(async () => {
  const dataDir = tempDataDir();
  const rules = join(dataDir, "rules.json");
  writeFileSync(rules, JSON.stringify(OWNER_ONLY));
  server = await startServerProcess({
    dataDir,
    args: ["--admin-secret", SECRET, "--jwt-secret", JWT_SECRET, "--permissions", rules],
  });
});

afterAll(async () => {
  await server.stop();
  removeDataDir(server.dataDir);
});

const admin = (method: string, path: string, body?: unknown) => adminCall(server.url, SECRET, method, path, body);

const token = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(JWT_SECRET));
const ids = (answer: { body: { triples: Array<{ id: string }> } }) =>
  [...new Set(answer.body.triples.map((triple) => triple.id))].sort();

describe("service keys", () => {
  it("read and write their own app past its rules, or as a user under them, until they are revoked", async () => {
    const app = (await admin("POST", "", { name: "Keyed" })).body.id as string;
    const other = (await admin("POST", "", { name: "Other" })).body.id as string;
    const created = await admin("POST", `/${app}/keys`, { name: "next.js server" });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/),
      name: "next.js server",
      createdAt: expect.any(Number),
      key: expect.stringMatching(/^tsk_/),
    });
    const { key, id: keyId } = created.body as { key: string; id: string };
    // Listed without the key itself.
    expect((await admin("GET", `/${app}/keys`)).body).toEqual({
      keys: [{ id: keyId, name: "next.js server", createdAt: created.body.createdAt }],
    });
    expect(JSON.stringify((await admin("GET", `/${app}/keys`)).body)).not.toContain(key.slice(25));

    const asService = { authorization: `Bearer ${key}` };
    const write = (id: string, createdBy: string, headers: Record<string, string>) =>
      post(
        server.url,
        "/v1/push",
        {
          appId: app,
          clientId: "server",
          batchId: `b-${id}`,
          triples: documentTriples("todos", id, { title: id, createdBy }, hlc),
        },
        headers,
      );
    // Privileged: it writes documents owned by anyone, and reads every one.
    expect(await write("for-alice", "alice", asService)).toMatchObject({
      status: 200,
      body: { batchId: "b-for-alice" },
    });
    expect(await write("for-bob", "bob", asService)).toMatchObject({ status: 200 });
    const all = await post(server.url, "/v1/query", { appId: app, query: query("todos"), cursor: null }, asService);
    expect(ids(all)).toEqual(["for-alice", "for-bob"]);
    // Users still see only their own.
    const bob = await post(
      server.url,
      "/v1/query",
      { appId: app, query: query("todos"), cursor: null },
      { authorization: `Bearer ${await token("bob")}` },
    );
    expect(ids(bob)).toEqual(["for-bob"]);

    // As a user (x-trellis-user): that user's rules apply, reads and writes alike.
    const asAlice = { ...asService, "x-trellis-user": "alice" };
    expect(
      ids(await post(server.url, "/v1/query", { appId: app, query: query("todos"), cursor: null }, asAlice)),
    ).toEqual(["for-alice"]);
    expect(await write("by-alice-for-bob", "bob", asAlice)).toMatchObject({
      status: 400,
      body: { error: { code: "VALIDATION" } },
    });
    expect(await write("by-alice", "alice", asAlice)).toMatchObject({ status: 200 });

    // Not a key of the other app, and not a token of a user.
    expect(
      await post(server.url, "/v1/query", { appId: other, query: query("todos"), cursor: null }, asService),
    ).toMatchObject({
      status: 401,
      body: { error: { message: expect.stringContaining(`not a key of app "${other}"`) } },
    });
    const forged = `${key.slice(0, -4)}AAAA`;
    expect(
      (
        await post(
          server.url,
          "/v1/query",
          { appId: app, query: query("todos"), cursor: null },
          { authorization: `Bearer ${forged}` },
        )
      ).status,
    ).toBe(401);
    expect(
      (
        await post(
          server.url,
          "/v1/query",
          { appId: app, query: query("todos"), cursor: null },
          { authorization: "Bearer tsk_nonsense" },
        )
      ).status,
    ).toBe(401);

    // Revoked: refused at once.
    expect(await admin("DELETE", `/${app}/keys/${keyId}`)).toEqual({ status: 200, body: { revoked: keyId } });
    expect(
      (await post(server.url, "/v1/query", { appId: app, query: query("todos"), cursor: null }, asService)).status,
    ).toBe(401);
    expect((await admin("DELETE", `/${app}/keys/${keyId}`)).status).toBe(404);
    expect((await admin("GET", "/no-such-app/keys")).status).toBe(404);
    expect((await admin("POST", `/${app}/keys`, { name: "" })).body).toMatchObject({
      error: { code: "VALIDATION", details: { field: "name" } },
    });

    // A key of a deleted app goes with it.
    const doomed = (await admin("POST", `/${other}/keys`, { name: "job" })).body.key as string;
    expect(
      (
        await post(
          server.url,
          "/v1/query",
          { appId: other, query: query("todos"), cursor: null },
          { authorization: `Bearer ${doomed}` },
        )
      ).status,
    ).toBe(200);
    expect((await admin("DELETE", `/${other}?confirm=true`)).status).toBe(200);
    expect(
      (
        await post(
          server.url,
          "/v1/query",
          { appId: other, query: query("todos"), cursor: null },
          { authorization: `Bearer ${doomed}` },
        )
      ).status,
    ).toBe(401);
  });

  it("are created, listed and revoked from the command line", async () => {
    const app = (await admin("POST", "", { name: "From the CLI" })).body.id as string;
    const env = { ...process.env, TRELLIS_ADMIN_SECRET: SECRET };
    const run = (...args: string[]) => runCli(["apps", "keys", ...args, "--url", server.url], env);
    expect((await run("list", app)).stdout).toContain("has no service keys");
    const created = await run("create", app, "cron job");
    expect(created.status, created.stderr).toBe(0);
    const key = /^(tsk_\S+)$/m.exec(created.stdout)?.[1];
    expect(key).toBeDefined();
    const keyId = /Created service key (\S+) of app/.exec(created.stdout)?.[1];
    expect((await run("list", app)).stdout).toMatch(new RegExp(`^${keyId}\\s.*cron job$`, "m"));
    expect(
      (
        await post(
          server.url,
          "/v1/query",
          { appId: app, query: query("todos"), cursor: null },
          { authorization: `Bearer ${key}` },
        )
      ).status,
    ).toBe(200);
    const revoked = await run("revoke", app, keyId!);
    expect(revoked.status, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`Revoked service key ${keyId}`);
    expect(
      (
        await post(
          server.url,
          "/v1/query",
          { appId: app, query: query("todos"), cursor: null },
          { authorization: `Bearer ${key}` },
        )
      ).status,
    ).toBe(401);
    expect((await run("revoke", app, keyId!)).stderr).toContain("answered 404");
  });
});
