import { existsSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { PROTOCOL_VERSION } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess, tempDataDir } from "@trellis/server/testing";
import { afterEach, describe, expect, it } from "vitest";
import {
  adminCall,
  closeAllSockets,
  connect,
  documentTriples,
  nextId,
  openSocket,
  post,
  query,
  storedTriples,
  writer,
} from "../testing/raw-socket.js";
import { runCli } from "../testing/run-cli.js";
import { AppRegistry, REGISTRY_FILE } from "./app-registry.js";

// The app registry against a real server process: in production mode (an admin secret) only
// registered apps are served and an unknown app id creates nothing; the admin API creates and
// lists apps; apps survive restarts; a data folder from before the registry keeps its apps.

const SECRET = "an-admin-secret-for-the-registry-tests";
const hlc = writer("registry");
const servers: ServerProcess[] = [];

afterEach(async () => {
  await closeAllSockets();
  for (const server of servers.splice(0)) {
    await server.stop();
    removeDataDir(server.dataDir);
  }
});

async function start(args: readonly string[], dataDir = tempDataDir()): Promise<ServerProcess> {
  const server = await startServerProcess({ dataDir, args: [...args] });
  servers.push(server);
  return server;
}

const admin = (server: ServerProcess, method: "GET" | "POST", body?: unknown, secret = SECRET) =>
  fetch(`${server.url}/v1/admin/apps`, {
    method,
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

/** The app files in a data folder (the registry's own file aside). */
const appFiles = (dataDir: string) =>
  readdirSync(dataDir).filter((file) => file.endsWith(".sqlite") && file !== REGISTRY_FILE);

describe("the app registry", () => {
  it("refuses an unknown app over WebSocket and HTTP in production mode, creating nothing", async () => {
    const server = await start(["--admin-secret", SECRET]);
    const socket = await openSocket(server.url);
    socket.send({ type: "hello", protocol: PROTOCOL_VERSION, appId: "made-up", clientId: "c1", userId: "mallory" });
    expect(await socket.next("error")).toMatchObject({
      code: "UNAUTHORIZED",
      message: expect.stringContaining('No app "made-up"'),
    });
    const answer = await post(
      server.url,
      "/v1/query",
      { appId: "made-up-too", query: query("todos"), cursor: null },
      { "x-trellis-user": "mallory" },
    );
    expect(answer.status).toBe(401);
    const pushed = await post(
      server.url,
      "/v1/push",
      {
        appId: "made-up-3",
        clientId: "c1",
        batchId: "b1",
        triples: documentTriples("todos", "t1", { title: "x" }, hlc),
      },
      { "x-trellis-user": "mallory" },
    );
    expect(pushed.status).toBe(401);
    expect(appFiles(server.dataDir)).toEqual([]);
    // Nor does the process hold any file for them.
    const held = readdirSync(`/proc/${server.pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${server.pid}/fd/${fd}`);
      } catch {
        return "";
      }
    });
    expect(held.some((file) => file.includes(REGISTRY_FILE))).toBe(true);
    expect(held.filter((file) => file.includes("made-up"))).toEqual([]);
    expect(server.output()).not.toContain("OPEN APPS");
  });

  it("answers every admin endpoint only with the admin secret, changing nothing without it", async () => {
    const server = await start(["--admin-secret", SECRET]);
    const appId = (await adminCall(server.url, SECRET, "POST", "", { name: "Guarded" })).body.id as string;
    const keyId = (await adminCall(server.url, SECRET, "POST", `/${appId}/keys`, { name: "k" })).body.id as string;
    const endpoints: Array<[method: string, path: string, body?: unknown]> = [
      ["GET", ""],
      ["POST", "", { name: "Another" }],
      ["GET", `/${appId}/metrics`],
      ["GET", `/${appId}/permissions`],
      ["PUT", `/${appId}/permissions`, { todos: { read: true } }],
      ["DELETE", `/${appId}/permissions`],
      ["GET", `/${appId}/auth`],
      ["PUT", `/${appId}/auth`, { keys: [{ id: "k1", secret: "a-secret-of-enough-length" }] }],
      ["DELETE", `/${appId}/auth`],
      ["GET", `/${appId}/keys`],
      ["POST", `/${appId}/keys`, { name: "k2" }],
      ["GET", `/${appId}/collections`],
      ["GET", `/${appId}/documents?collection=todos`],
      ["GET", `/${appId}/document?collection=todos&id=t1`],
      ["GET", `/${appId}/connections`],
      ["DELETE", `/${appId}/keys/${keyId}`],
    ];
    // Refused first (the address is throttled after ten failures: 401, then 429), then allowed.
    const refused: number[] = [];
    for (const [method, path, body] of endpoints)
      refused.push((await adminCall(server.url, "not-the-admin-secret-at-all", method, path, body)).status);
    refused.push(
      (await adminCall(server.url, "not-the-admin-secret-at-all", "DELETE", `/${appId}?confirm=true`)).status,
    );
    expect(
      refused.every((status) => status === 401 || status === 429),
      String(refused),
    ).toBe(true);
    const registry = new Database(join(server.dataDir, REGISTRY_FILE), { readonly: true });
    try {
      expect(registry.prepare("SELECT id FROM apps").all()).toEqual([{ id: appId }]);
      expect(registry.prepare("SELECT id FROM service_keys").all()).toEqual([{ id: keyId }]);
      expect(registry.prepare("SELECT COUNT(*) AS n FROM app_rules").get()).toEqual({ n: 0 });
      expect(registry.prepare("SELECT COUNT(*) AS n FROM app_auth").get()).toEqual({ n: 0 });
    } finally {
      registry.close();
    }
    // Allowed once the address may try again, with the right secret.
    await server.restart();
    for (const [method, path, body] of endpoints) {
      const answer = await adminCall(server.url, SECRET, method, path, body);
      const expected = path.startsWith(`/${appId}/document?`) ? 404 : method === "POST" ? 201 : 200;
      expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBe(expected);
    }
    expect((await adminCall(server.url, SECRET, "DELETE", `/${appId}?confirm=true`)).status).toBe(200);
  });

  it("creates and lists apps through the admin API, which then serve clients and survive a restart", async () => {
    const server = await start(["--admin-secret", SECRET]);
    expect((await admin(server, "GET", undefined, "not-the-secret")).status).toBe(401);
    expect((await fetch(`${server.url}/v1/admin/apps`)).status).toBe(401);
    const bad = await admin(server, "POST", { name: "" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: "VALIDATION", details: { field: "name" } } });
    expect((await admin(server, "POST", { name: "x", owner: "me" })).status).toBe(400);

    const created = await admin(server, "POST", { name: "Todo app" });
    expect(created.status).toBe(201);
    const app = (await created.json()) as { id: string; name: string; createdAt: number };
    expect(app).toMatchObject({ id: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/), name: "Todo app" });
    const other = (await (await admin(server, "POST", { name: "Other" })).json()) as { id: string };
    expect(other.id).not.toBe(app.id);
    expect(((await (await admin(server, "GET")).json()) as { apps: unknown[] }).apps).toEqual([
      app,
      expect.objectContaining({ id: other.id, name: "Other" }),
    ]);

    const alice = await connect(server.url, app.id, { userId: "alice" });
    const batchId = nextId("b");
    alice.send({ type: "push", batchId, triples: documentTriples("todos", "t1", { title: "works" }, hlc) });
    expect(await alice.next("ack")).toMatchObject({ batchId });
    await closeAllSockets();

    await server.restart();
    expect(
      new Set(
        (await storedTriples(server.url, app.id, "todos", { "x-trellis-user": "alice" })).map((triple) => triple.id),
      ),
    ).toEqual(new Set(["t1"]));
    expect(
      ((await (await admin(server, "GET")).json()) as { apps: Array<{ id: string }> }).apps.map((each) => each.id),
    ).toEqual([app.id, other.id]);

    // Created at once from many requests, each gets an app of its own.
    const many = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        admin(server, "POST", { name: `Concurrent ${index}` }).then(
          (answer) => answer.json() as Promise<{ id: string }>,
        ),
      ),
    );
    expect(new Set(many.map((each) => each.id)).size).toBe(20);
    expect(((await (await admin(server, "GET")).json()) as { apps: unknown[] }).apps).toHaveLength(22);
  });

  it("keeps the apps of a data folder written without a registry, and serves any app in development mode", async () => {
    const dev = await start([]);
    expect(dev.output()).toContain("OPEN APPS: no admin secret");
    expect((await fetch(`${dev.url}/v1/admin/apps`)).status).toBe(404);
    const legacy = await connect(dev.url, "legacy", { userId: "alice" });
    legacy.send({
      type: "push",
      batchId: "b1",
      triples: documentTriples("todos", "old", { title: "from before" }, hlc),
    });
    await legacy.next("ack");
    await closeAllSockets();
    const dataDir = dev.dataDir;
    await dev.stop();
    servers.splice(servers.indexOf(dev), 1);
    // A folder as an older server left it: the app's file, no registry.
    for (const file of readdirSync(dataDir)) if (file.startsWith(REGISTRY_FILE)) rmSync(join(dataDir, file));
    expect(existsSync(join(dataDir, REGISTRY_FILE))).toBe(false);

    const production = await start(["--admin-secret", SECRET], dataDir);
    expect(
      new Set(
        (await storedTriples(production.url, "legacy", "todos", { "x-trellis-user": "alice" })).map(
          (triple) => triple.id,
        ),
      ),
    ).toEqual(new Set(["old"]));
    expect(
      ((await (await admin(production, "GET")).json()) as { apps: Array<{ id: string }> }).apps.map((each) => each.id),
    ).toEqual(["legacy"]);
    const socket = await openSocket(production.url);
    socket.send({ type: "hello", protocol: PROTOCOL_VERSION, appId: "newcomer", clientId: "c1", userId: "alice" });
    expect(await socket.next("error")).toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("slows down an address that keeps guessing the admin secret", async () => {
    const server = await start(["--admin-secret", SECRET]);
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 12; attempt++)
      statuses.push((await admin(server, "GET", undefined, `guess-${attempt}`)).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual([429, 429]);
    // Even the right secret waits now: guessing gains nothing.
    expect((await admin(server, "GET")).status).toBe(429);
  });

  it("is refused at start with a short admin secret", async () => {
    const dataDir = tempDataDir();
    try {
      await expect(startServerProcess({ dataDir, args: ["--admin-secret", "short"] })).rejects.toThrow(
        /adminSecret must be a string of at least 16 characters/,
      );
    } finally {
      removeDataDir(dataDir);
    }
  });

  it("lists and creates apps from the command line, as text or JSON", async () => {
    const server = await start(["--admin-secret", SECRET]);
    const run = (args: readonly string[], secret = SECRET) =>
      runCli(["apps", ...args, "--url", server.url], { ...process.env, TRELLIS_ADMIN_SECRET: secret });
    const empty = await run(["list"]);
    expect(empty.status, empty.stderr).toBe(0);
    expect(empty.stdout).toContain("No apps yet");

    const created = await run(["create", "From the CLI"]);
    expect(created.status, created.stderr).toBe(0);
    const id = /with id ([A-Za-z0-9_-]{16})\./.exec(created.stdout)?.[1];
    expect(id).toBeDefined();
    expect(created.stdout).toContain(`createClient({ schema, appId: "${id}", serverUrl: "${server.url}" })`);
    const listed = await run(["list", "--json"]);
    expect(JSON.parse(listed.stdout)).toEqual({ apps: [expect.objectContaining({ id, name: "From the CLI" })] });
    expect((await run(["list"])).stdout).toMatch(new RegExp(`^${id}\\s.*From the CLI$`, "m"));
    await connect(server.url, id!, { userId: "alice" });

    const refused = await run(["list"], "a-wrong-secret-of-some-length");
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("answered 401");
    const unset = await run(["list"], "");
    expect(unset.status).toBe(1);
    expect(unset.stderr).toContain("set TRELLIS_ADMIN_SECRET");
    const wrong = await run(["remove", "x"]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain('unknown command "remove"');
  });

  it("deletes an app only when confirmed: its connections are told and closed, its files and registration go", async () => {
    const server = await start(["--admin-secret", SECRET]);
    const app = (await (await admin(server, "POST", { name: "Doomed" })).json()) as { id: string };
    const keep = (await (await admin(server, "POST", { name: "Kept" })).json()) as { id: string };
    const alice = await connect(server.url, app.id, { userId: "alice" });
    alice.send({ type: "push", batchId: "b1", triples: documentTriples("todos", "t1", { title: "soon gone" }, hlc) });
    await alice.next("ack");
    const bystander = await connect(server.url, keep.id, { userId: "bob" });
    expect(appFiles(server.dataDir).sort()).toEqual([`${app.id}.sqlite`, `${keep.id}.sqlite`].sort());

    // Metrics of a running app, then of one nobody uses.
    const metrics = (id: string, secret = SECRET) =>
      fetch(`${server.url}/v1/admin/apps/${id}/metrics`, { headers: { authorization: `Bearer ${secret}` } });
    const running = (await (await metrics(app.id)).json()) as Record<string, unknown>;
    expect(running).toMatchObject({ id: app.id, isOpen: true, connections: 1, liveQueries: 0 });
    expect(running.writesPerSecond).toBeGreaterThan(0);
    expect(running.storageBytes).toBeGreaterThan(0);
    expect(await (await metrics(keep.id)).json()).toMatchObject({ connections: 1, writesPerSecond: 0 });
    expect((await metrics("no-such-app")).status).toBe(404);
    expect((await metrics(app.id, "a-wrong-secret-of-some-length")).status).toBe(401);

    const remove = (id: string, confirm = "?confirm=true", secret = SECRET) =>
      fetch(`${server.url}/v1/admin/apps/${id}${confirm}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${secret}` },
      });
    expect((await remove(app.id, "", SECRET)).status).toBe(400);
    expect((await remove(app.id, "?confirm=true", "a-wrong-secret-of-some-length")).status).toBe(401);
    expect((await remove("no-such-app")).status).toBe(404);
    const deleted = await remove(app.id);
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ deleted: app.id });
    expect(await alice.next("error")).toMatchObject({ code: "UNAUTHORIZED", message: `App "${app.id}" was deleted.` });
    expect((await alice.closed).reason).toContain("was deleted");

    expect(readdirSync(server.dataDir).filter((file) => file.startsWith(app.id))).toEqual([]);
    expect(
      ((await (await admin(server, "GET")).json()) as { apps: Array<{ id: string }> }).apps.map((each) => each.id),
    ).toEqual([keep.id]);
    const again = await openSocket(server.url);
    again.send({ type: "hello", protocol: PROTOCOL_VERSION, appId: app.id, clientId: "c2", userId: "alice" });
    expect(await again.next("error")).toMatchObject({ code: "UNAUTHORIZED" });
    // The other app never noticed.
    bystander.send({
      type: "push",
      batchId: "b2",
      triples: documentTriples("todos", "t2", { title: "still here" }, hlc),
    });
    expect(await bystander.next("ack")).toMatchObject({ batchId: "b2" });

    // The command line asks for --yes.
    const env = { ...process.env, TRELLIS_ADMIN_SECRET: SECRET };
    const unconfirmed = await runCli(["apps", "delete", keep.id, "--url", server.url], env);
    expect(unconfirmed.status).toBe(1);
    expect(unconfirmed.stderr).toContain("add --yes");
    const confirmed = await runCli(["apps", "delete", keep.id, "--yes", "--url", server.url], env);
    expect(confirmed.status, confirmed.stderr).toBe(0);
    expect(confirmed.stdout).toContain(`Deleted app ${keep.id}`);
    expect(appFiles(server.dataDir)).toEqual([]);
  });

  it("keeps an app's permission rules across restarts, sets them from the command line, and keeps an app closed whose stored rules no longer parse", async () => {
    const server = await start(["--admin-secret", SECRET]);
    const app = (await (await admin(server, "POST", { name: "Ruled" })).json()) as { id: string };
    const env = { ...process.env, TRELLIS_ADMIN_SECRET: SECRET };
    const run = (...args: string[]) => runCli(["apps", "permissions", ...args, "--url", server.url], env);
    expect((await run("get", app.id)).stdout).toContain(`App ${app.id} has no permission rules`);
    const file = join(server.dataDir, "..", `rules-${app.id}.json`);
    writeFileSync(file, JSON.stringify({ todos: { read: true, create: false } }));
    const set = await run("set", app.id, file);
    expect(set.status, set.stderr).toBe(0);
    expect(set.stdout).toContain(`App ${app.id} follows its own permission rules`);
    writeFileSync(file, JSON.stringify({ todos: { read: { title: { unknown: 1 } } } }));
    const refused = await run("set", app.id, file);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("todos.read.title.unknown");
    rmSync(file);

    // The rules hold after a restart: a create is refused.
    await server.restart();
    expect(JSON.parse((await run("get", app.id, "--json")).stdout)).toEqual({
      appId: app.id,
      source: "app",
      rules: { todos: { read: true, create: false } },
    });
    const alice = await connect(server.url, app.id, { userId: "alice" });
    alice.send({ type: "push", batchId: "b1", triples: documentTriples("todos", "t1", { title: "x" }, hlc) });
    expect(await alice.next("error")).toMatchObject({ code: "UNAUTHORIZED" });
    await closeAllSockets();

    // Rules that no longer parse (written by another version) keep the app closed, not open.
    await server.stop();
    const registry = new Database(join(server.dataDir, REGISTRY_FILE));
    registry
      .prepare("UPDATE app_rules SET rules = ? WHERE id = ?")
      .run(JSON.stringify({ todos: { read: { title: { like: "x" } } } }), app.id);
    registry.close();
    await server.restart();
    const socket = await openSocket(server.url);
    socket.send({ type: "hello", protocol: PROTOCOL_VERSION, appId: app.id, clientId: "c1", userId: "alice" });
    expect(await socket.next("error")).toMatchObject({
      code: "STORAGE",
      message: expect.stringContaining("are not valid"),
    });
    // An admin clears them: the app follows the server's rules (none) and opens again.
    const cleared = await run("clear", app.id);
    expect(cleared.status, cleared.stderr).toBe(0);
    expect(cleared.stdout).toContain("has no permission rules");
    const bob = await connect(server.url, app.id, { userId: "bob" });
    bob.send({ type: "push", batchId: "b2", triples: documentTriples("todos", "t2", { title: "y" }, hlc) });
    expect(await bob.next("ack")).toMatchObject({ batchId: "b2" });
  });

  it("never makes an app or key id that a command line would read as an option", () => {
    const dataDir = tempDataDir();
    const registry = AppRegistry.open(dataDir).data!;
    try {
      // One id in 64 would start with "-" if nothing prevented it.
      const ids = Array.from({ length: 300 }, (_, index) => registry.create(`App ${index}`).data!.id);
      const keys = ids.slice(0, 100).map((id) => registry.createKey(id, "k").data!.id);
      expect([...ids, ...keys].filter((id) => id.startsWith("-"))).toEqual([]);
    } finally {
      registry.close();
      removeDataDir(dataDir);
    }
  });
});
