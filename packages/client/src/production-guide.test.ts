import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createSchema, t } from "@trellis/core";
import { createAdminClient } from "@trellis/server";
import { SignJWT } from "jose";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClient, type TrellisClient } from "./create-client.js";
import { type DocSession, fencedBlocks, markdownSection, shellCommands, startDocSession } from "./testing/doc-shell.js";
import { allOnline, FAST_RECONNECT, waitFor } from "./testing/live-server.js";

// Runs the production steps of docs/getting-started.md and the app, rules and key commands of
// docs/admin.md as written, in bash, against the built `trellis-server` in a temporary folder:
// a guide step no test runs is not known to work. Mapped for the run (see startDocSession): `npx
// trellis-server` is packages/server/dist/cli.js on a free port, the doc's server URLs that one,
// its example ids the ids the steps printed; the server's JSON log lines are not compared.

const DOCS = fileURLToPath(new URL("../../../docs/", import.meta.url));
const CLI = fileURLToPath(new URL("../../server/dist/cli.js", import.meta.url));
const STAND_INS = {
  serverUrls: ["http://127.0.0.1:8787", "https://sync.example.com"],
  exampleIds: ["Qd3w8y0jZxk1HqVc", "V2sH1kq0bX8nYt3a"],
};

const schema = createSchema({
  entities: {
    todos: {
      text: t.string({ fallback: "" }),
      done: t.boolean({ fallback: false }),
      dueAt: t.date({ optional: true }),
    },
  },
});
type Todo = { readonly text: string };

const sessions: DocSession[] = [];
const clients: TrellisClient<typeof schema>[] = [];
const folders: string[] = [];

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build @trellis/server first.`);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const session of sessions.splice(0)) await session.close();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A reader's shell in a fresh folder, with `files` written there first. */
function readerSession(files: Record<string, string>, env: Record<string, string> = {}): DocSession {
  const cwd = mkdtempSync(join(tmpdir(), "trellis-guide-"));
  folders.push(cwd);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(cwd, name), text);
  const session = startDocSession({ cli: CLI, cwd, env, ...STAND_INS });
  sessions.push(session);
  return session;
}

async function runBlocks(session: DocSession, blocks: readonly string[]): Promise<string[]> {
  const printed: string[] = [];
  for (const block of blocks) for (const step of shellCommands(block)) printed.push(await session.run(step));
  return printed;
}

const doc = (name: string) => readFileSync(join(DOCS, name), "utf8");

describe("docs/getting-started.md, “Going to production”", () => {
  it("starts a server in production mode, creates an app, sets its rules and a service key; clients with a token and the key then work", async () => {
    const section = markdownSection(doc("getting-started.md"), "Going to production");
    const [rules] = fencedBlocks(section, "json");
    expect(rules).toBeDefined();
    const session = readerSession({ "rules.json": rules! });
    const printed = await runBlocks(session, fencedBlocks(section, "sh"));
    expect(printed.join("")).toContain("NO PERMISSIONS");

    const appId = session.ids.get("Qd3w8y0jZxk1HqVc")!;
    const serviceKey = /^tsk_\S+$/m.exec(printed.at(-1)!)?.[0];
    expect(serviceKey).toBeDefined();
    const serverUrl = session.url!;
    const jwtSecret = new TextEncoder().encode(await session.variable("TRELLIS_JWT_SECRET"));
    const tokenOf = (userId: string) => () =>
      new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(userId).setExpirationTime("1h").sign(jwtSecret);
    const connect = (userId: string, app = appId) => {
      const client = createClient({
        schema,
        serverUrl,
        appId: app,
        userId,
        auth: { getToken: tokenOf(userId) },
        reconnect: FAST_RECONNECT,
      });
      clients.push(client);
      return client;
    };
    const follow = (client: TrellisClient<typeof schema>) => {
      const seen: { todos: readonly Todo[] | undefined } = { todos: undefined };
      client.database.todos.subscribe({ orderBy: ["text", "asc"] }, (todos, error, loading) => {
        if (!loading && error === undefined) seen.todos = todos;
      });
      return seen;
    };

    // Step 2: a client of that app with a token; step 3: each user sees only their own todos.
    const alice = connect("alice");
    const bob = connect("bob");
    await alice.database.todos.create({ text: "alice's", done: false });
    await bob.database.todos.create({ text: "bob's", done: false });
    await allOnline([alice, bob]);
    const onAnotherDevice = follow(connect("alice"));
    await waitFor(() => onAnotherDevice.todos?.length === 1, "alice's own todo on her other device");
    expect(onAnotherDevice.todos!.map((todo) => todo.text)).toEqual(["alice's"]);

    // Step 4: the service key past the rules, and its write reaches alice at once.
    const admin = createAdminClient({ schema, serverUrl, appId, serviceKey: serviceKey! });
    const welcome = await admin.database.todos.create({ text: "Welcome!", done: false }, { createdBy: "alice" });
    expect(welcome.error).toBeUndefined();
    await waitFor(() => onAnotherDevice.todos?.length === 2, "the welcome todo on alice's device");
    expect(onAnotherDevice.todos!.map((todo) => todo.text)).toEqual(["Welcome!", "alice's"]);
    expect((await admin.database.todos.query({ orderBy: ["text", "asc"] })).data?.map((todo) => todo.text)).toEqual([
      "Welcome!",
      "alice's",
      "bob's",
    ]);
    expect((await admin.asUser("bob").database.todos.query({})).data?.map((todo) => todo.text)).toEqual(["bob's"]);

    // Only the created app is served.
    const stranger = connect("alice", "my-todos");
    await waitFor(() => stranger.connection.lastError !== undefined, "the unregistered app refused");
    expect(stranger.connection.lastError?.code).toBe("UNAUTHORIZED");
  });
});

describe("docs/admin.md", () => {
  const text = () => doc("admin.md");
  /** The production start: the first shell block, before any section. */
  const start = () => fencedBlocks(text().slice(0, text().indexOf("\n## ")), "sh");
  const blocksOf = (heading: string) => fencedBlocks(markdownSection(text(), heading), "sh");
  // admin.md shows the rules a step prints but not its rules.json: this one matches them.
  const files = {
    "rules.json": JSON.stringify({ todos: { read: { ownerId: "$user.id" }, create: { ownerId: "$user.id" } } }),
  };
  const env = { TRELLIS_JWT_SECRET: "a-jwt-secret-for-the-admin-guide" };

  it("creates an app with curl, sets its rules, creates, lists and revokes a service key", async () => {
    const [create] = blocksOf("Creating an app");
    const [keys] = blocksOf("Service keys");
    const session = readerSession(files, env);
    await runBlocks(session, [...start(), create!, ...blocksOf("Permission rules per app"), keys!]);

    const appId = session.ids.get("Qd3w8y0jZxk1HqVc")!;
    const adminSecret = await session.variable("TRELLIS_ADMIN_SECRET");
    const answer = await fetch(`${session.url}/v1/admin/apps/${appId}/permissions`, {
      headers: { authorization: `Bearer ${adminSecret}` },
    });
    // `permissions clear` ran last: the app follows the server's --permissions again.
    expect(await answer.json()).toEqual({ appId, source: "server", rules: null });
    const keyList = await fetch(`${session.url}/v1/admin/apps/${appId}/keys`, {
      headers: { authorization: `Bearer ${adminSecret}` },
    });
    expect(await keyList.json()).toEqual({ keys: [] });

    // Browsing its data: three of alice's todos, the first page of two as the doc shows it.
    const jwtSecret = new TextEncoder().encode(env.TRELLIS_JWT_SECRET);
    const todos = createSchema({
      entities: {
        todos: {
          title: t.string({ fallback: "" }),
          done: t.boolean({ fallback: false }),
          ownerId: t.string({ fallback: "" }),
        },
      },
    });
    const token = () =>
      new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setExpirationTime("1h").sign(jwtSecret);
    const alice = createClient({
      schema: todos,
      serverUrl: session.url!,
      appId,
      auth: { getToken: token },
      reconnect: FAST_RECONNECT,
    });
    for (let each = 0; each < 3; each++)
      await alice.database.todos.create({ title: "Buy milk", done: false, ownerId: "alice" });
    await allOnline([alice]);
    await alice.close();
    const [page] = await runBlocks(session, blocksOf("Browsing an app's data"));
    expect(JSON.parse(page!).documents).toHaveLength(2);
  });

  it("creates, lists and deletes an app with the CLI", async () => {
    const [, cli] = blocksOf("Creating an app");
    const session = readerSession(files, env);
    await runBlocks(session, [...start(), cli!]);

    const adminSecret = await session.variable("TRELLIS_ADMIN_SECRET");
    const listed = await fetch(`${session.url}/v1/admin/apps`, { headers: { authorization: `Bearer ${adminSecret}` } });
    expect(await listed.json()).toEqual({ apps: [] });
  });
});
