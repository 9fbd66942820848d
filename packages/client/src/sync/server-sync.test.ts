import { createSchema, t } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type ClientOptions, createClient, type TrellisClient } from "../create-client.js";
import { allOnline, FAST_RECONNECT, type FrameLog, recordFrames, recorder, waitFor } from "../testing/live-server.js";
import type { ConnectionState } from "./client-connection.js";

// Client ↔ server sync against a real `trellis-server` process on 127.0.0.1 (real SQLite files,
// real WebSockets through `ws`). Each test uses an app id of its own on the shared server.

const schema = createSchema({
  entities: {
    todos: {
      text: t.string({ fallback: "" }),
      done: t.boolean({ optional: true, fallback: false }),
      rank: t.number({ optional: true, fallback: 0 }),
      tagIds: t.refMany("tags"),
    },
    tags: { name: t.string({ fallback: "" }) },
  },
});
type Schema = typeof schema;
type Client = TrellisClient<Schema>;
type Row = Record<string, unknown>;

let server: ServerProcess;
const servers: ServerProcess[] = [];
const clients: Client[] = [];
let apps = 0;

beforeAll(async () => {
  server = await startServerProcess();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const own of servers.splice(0)) {
    await own.stop();
    removeDataDir(own.dataDir);
  }
});
afterAll(async () => {
  await server.stop();
  removeDataDir(server.dataDir);
});

const newApp = () => `sync-${++apps}`;

function connect(appId: string, options: Partial<ClientOptions<Schema>> = {}, on: ServerProcess = server): Client {
  const client = createClient({ schema, appId, serverUrl: on.url, reconnect: FAST_RECONNECT, ...options });
  clients.push(client);
  return client;
}

/** A client whose frames are recorded. */
function connectRecorded(
  appId: string,
  options: Partial<ClientOptions<Schema>> = {},
  on: ServerProcess = server,
): [Client, FrameLog] {
  const frames = recordFrames();
  return [connect(appId, { ...options, WebSocket: frames.WebSocket }, on), frames];
}

const texts = (rows: readonly Row[] | undefined) => rows?.map((row) => row.text);
/** The ids of the documents triples are about. */
const idsIn = (triples: readonly { id: string }[]) => new Set(triples.map((triple) => triple.id));

describe("replication between two clients", () => {
  it("delivers a write on one client to another client's subscription", async () => {
    const app = newApp();
    const [a, b] = [connect(app, { userId: "a" }), connect(app, { userId: "b" })];
    const seen = recorder<readonly Row[]>();
    b.database.todos.subscribe(
      { where: { done: false }, fields: { id: true, text: true, createdBy: true } },
      seen.callback,
    );
    await allOnline([b]);
    const created = await a.database.todos.create({ text: "milk", done: false });
    expect(created.error).toBeUndefined();
    await waitFor(() => seen.last?.data?.length === 1, "the write reaches b");
    expect(seen.last?.data).toEqual([{ id: created.data!.id, text: "milk", createdBy: "a" }]);
  });

  it("replicates updates and deletes", async () => {
    const app = newApp();
    const [a, b] = [connect(app), connect(app)];
    const seen = recorder<readonly Row[]>();
    b.database.todos.subscribe({ orderBy: ["rank", "asc"], fields: { text: true, rank: true } }, seen.callback);
    const first = (await a.database.todos.create({ text: "one", rank: 1 })).data!;
    const second = (await a.database.todos.create({ text: "two", rank: 2 })).data!;
    await waitFor(() => seen.last?.data?.length === 2, "both documents reach b");

    await a.database.todos.update({ id: first.id, fields: { text: "one, edited", rank: 3 } });
    await waitFor(() => seen.last?.data?.[1]?.text === "one, edited", "the update reaches b");
    expect(seen.last?.data).toEqual([
      { text: "two", rank: 2 },
      { text: "one, edited", rank: 3 },
    ]);

    await a.database.todos.delete(second.id);
    await waitFor(() => seen.last?.data?.length === 1, "the delete reaches b");
    expect(seen.last?.data).toEqual([{ text: "one, edited", rank: 3 }]);
    // A write b makes to what a deleted meanwhile is refused locally: b holds the delete too.
    expect((await b.database.todos.update({ id: second.id, fields: { text: "revived" } })).error?.code).toBe(
      "NOT_FOUND",
    );
  });

  it("drops a document that stops matching a filter on the other client", async () => {
    const app = newApp();
    const [a, b] = [connect(app), connect(app)];
    const open = recorder<readonly Row[]>();
    b.database.todos.subscribe({ where: { done: false }, orderBy: ["rank", "asc"] }, open.callback);
    const milk = (await a.database.todos.create({ text: "milk", rank: 1 })).data!;
    await a.database.todos.create({ text: "eggs", rank: 2 });
    await waitFor(() => open.last?.data?.length === 2, "both open todos reach b");

    await a.database.todos.update({ id: milk.id, fields: { done: true } });
    await waitFor(() => open.last?.data?.length === 1, "the done todo leaves b's result");
    expect(texts(open.last?.data)).toEqual(["eggs"]);
    // …and enters again when it matches again.
    await a.database.todos.update({ id: milk.id, fields: { done: false } });
    await waitFor(() => open.last?.data?.length === 2, "the reopened todo comes back");
    expect(texts(open.last?.data)).toEqual(["milk", "eggs"]);
  });

  it("syncs refMany additions and removals", async () => {
    const app = newApp();
    const [a, b] = [connect(app), connect(app)];
    const seen = recorder<readonly Row[]>();
    b.database.todos.subscribe({ where: { tagIds: "urgent" }, fields: { id: true, tagIds: true } }, seen.callback);
    const todo = (await a.database.todos.create({ text: "milk", tagIds: ["urgent", "home"] })).data!;
    await waitFor(() => seen.last?.data?.length === 1, "the tagged todo reaches b");
    expect(seen.last?.data).toEqual([{ id: todo.id, tagIds: ["home", "urgent"] }]);
    await a.database.todos.update({ id: todo.id, fields: { tagIds: ["home"] } });
    await waitFor(() => seen.last?.data?.length === 0, "the untagged todo leaves b's result");
  });
});

describe("loading", () => {
  it("is loading until the server answers, then delivers the data and the end of loading together", async () => {
    const app = newApp();
    const a = connect(app);
    await a.database.todos.create({ text: "milk" });
    await a.database.todos.create({ text: "eggs" });
    await allOnline([a]);

    const b = connect(app);
    const seen = recorder<readonly Row[]>();
    b.database.todos.subscribe({ orderBy: ["text", "asc"], fields: { text: true } }, seen.callback);
    expect(seen.calls).toEqual([{ data: undefined, error: undefined, loading: true }]);
    await waitFor(() => seen.calls.length === 2, "the server's answer");
    expect(seen.calls[1]).toEqual({ data: [{ text: "eggs" }, { text: "milk" }], error: undefined, loading: false });
    await allOnline([b]);
    expect(seen.calls).toHaveLength(2);
  });

  it("answers at once from local data when offline", async () => {
    const app = newApp();
    const a = connect(app);
    await a.database.todos.create({ text: "on the server" });
    await allOnline([a]);

    const offline = connect(app);
    offline.disconnect();
    expect(offline.connection.state).toBe("offline");
    await offline.database.todos.create({ text: "local" });
    const seen = recorder<readonly Row[]>();
    offline.database.todos.subscribe({ fields: { text: true } }, seen.callback);
    expect(seen.calls).toEqual([{ data: [{ text: "local" }], error: undefined, loading: false }]);
    expect((await offline.database.todos.query({ fields: { text: true } })).data).toEqual([{ text: "local" }]);

    // Back online, the same subscription catches up without going back to loading.
    offline.connect();
    await waitFor(() => seen.last?.data?.length === 2, "the server's data");
    expect(seen.calls.every((call) => !call.loading)).toBe(true);
    expect(texts(seen.last?.data)?.sort()).toEqual(["local", "on the server"]);
  });

  it("does not load again for a query synced before, and one-shot queries wait for the server", async () => {
    const app = newApp();
    const a = connect(app);
    await a.database.todos.create({ text: "milk", rank: 1 });
    await allOnline([a]);

    const b = connect(app);
    // A one-shot query on a connected client waits for the server's first answer.
    expect((await b.database.todos.query({ fields: { text: true } })).data).toEqual([{ text: "milk" }]);

    const first = recorder<readonly Row[]>();
    const subscription = b.database.todos.subscribe(
      { where: { rank: { greaterThan: 0 } }, fields: { text: true } },
      first.callback,
    );
    await waitFor(() => first.last?.loading === false, "the first answer");
    subscription.unsubscribe();
    // Away while the data changes, so nothing but the resumed query can bring the change.
    b.disconnect();
    await a.database.todos.create({ text: "eggs", rank: 2 });
    await allOnline([a]);
    b.connect();
    await allOnline([b]);

    const again = recorder<readonly Row[]>();
    b.database.todos.subscribe({ where: { rank: { greaterThan: 0 } }, fields: { text: true } }, again.callback);
    expect(again.calls[0]?.loading).toBe(false);
    expect(again.calls[0]?.data).toEqual([{ text: "milk" }]);
    await waitFor(() => again.last?.data?.length === 2, "what changed since the cursor");
    expect(again.calls.every((call) => !call.loading)).toBe(true);
  });
});

describe("connection", () => {
  it("goes connecting → syncing → online and pending returns to 0", async () => {
    const app = newApp();
    const c = connect(app);
    // createClient connects at once: `initial` lasts only until then.
    expect(c.connection.state).toBe("connecting");
    const states: ConnectionState[] = [c.connection.state];
    const pendings: number[] = [];
    c.connection.subscribe(({ state, pending }) => {
      if (states.at(-1) !== state) states.push(state);
      pendings.push(pending);
    });
    await c.database.todos.create({ text: "first" });
    expect(c.connection.pending).toBe(1);
    await allOnline([c]);
    expect(states).toEqual(["connecting", "syncing", "online"]);
    expect(pendings.at(-1)).toBe(0);
    expect(c.connection.lastError).toBeUndefined();
  });

  it("goes offline on disconnect() and pushes what was written meanwhile on connect()", async () => {
    const app = newApp();
    const [a, b] = [connect(app), connect(app)];
    const seen = recorder<readonly Row[]>();
    b.database.todos.subscribe({ orderBy: ["rank", "asc"], fields: { text: true } }, seen.callback);
    await allOnline([a, b]);

    a.disconnect();
    expect(a.connection.state).toBe("offline");
    await a.database.todos.create({ text: "offline 1", rank: 1 });
    await a.database.todos.create({ text: "offline 2", rank: 2 });
    expect(a.connection.pending).toBe(2);
    // Local work goes on while offline…
    expect((await a.database.todos.query({ fields: { text: true } })).data).toHaveLength(2);
    // …and nothing reached the server.
    const observer = connect(app);
    expect((await observer.database.todos.query({})).data).toEqual([]);

    a.connect();
    await allOnline([a]);
    await waitFor(() => seen.last?.data?.length === 2, "the offline writes reach b");
    expect(seen.last?.data).toEqual([{ text: "offline 1" }, { text: "offline 2" }]);

    // The receiving side can go away and come back too.
    b.disconnect();
    await a.database.todos.create({ text: "while b was away", rank: 3 });
    await allOnline([a]);
    expect(seen.last?.data).toHaveLength(2);
    b.connect();
    await waitFor(() => seen.last?.data?.length === 3, "b catches up");
    await allOnline([a, b]);
  });

  it("releases its socket on close()", async () => {
    const own = await startServerProcess();
    servers.push(own);
    const connections = async () =>
      ((await (await fetch(`${own.url}/v1/metrics`)).json()) as { connections: number }).connections;
    const c = connect(newApp(), {}, own);
    await allOnline([c]);
    expect(await connections()).toBe(1);
    await c.close();
    await waitFor(async () => (await connections()) === 0, "the server sees the socket go");
  });

  it("reconnects after a server restart and resumes from its cursor, without gaps or double application", async () => {
    const own = await startServerProcess();
    servers.push(own);
    const app = newApp();
    const a = connect(app, {}, own);
    const [b, frames] = connectRecorded(app, {}, own);
    const seen = recorder<readonly Row[]>();
    b.database.todos.subscribe(
      { orderBy: ["rank", "asc"], fields: { id: true, text: true, rank: true } },
      seen.callback,
    );
    const created: string[] = [];
    for (let rank = 0; rank < 5; rank++)
      created.push((await a.database.todos.create({ text: `todo ${rank}`, rank })).data!.id);
    await waitFor(() => seen.last?.data?.length === 5, "the first five todos reach b");
    await allOnline([a, b]);

    // A restart with nothing changed: b resubscribes from its cursor, gets nothing, calls back never.
    const callsBefore = seen.calls.length;
    const subscribesBefore = frames.sentOf("subscribe").length;
    await own.restart();
    await waitFor(() => frames.sentOf("subscribe").length > subscribesBefore, "b subscribes again");
    await allOnline([a, b]);
    const resubscribe = frames.sentOf("subscribe").at(-1)!;
    expect(resubscribe.cursor).toMatch(/^\d+$/);
    const resumed = frames.receivedOf("snapshot").at(-1)!;
    expect(resumed.triples).toEqual([]);
    expect(seen.calls).toHaveLength(callsBefore);

    // Changes while b is away and the server restarts: b gets exactly those, once.
    b.disconnect();
    await a.database.todos.update({ id: created[0]!, fields: { text: "todo 0, edited" } });
    await a.database.todos.delete(created[1]!);
    const late = (await a.database.todos.create({ text: "todo 5", rank: 5 })).data!.id;
    await allOnline([a]);
    await own.restart();
    // Written while a reconnects: pushed (again, maybe) once it is back, applied once.
    const last = (await a.database.todos.create({ text: "todo 6", rank: 6 })).data!.id;
    const receivedBefore = frames.received.length;
    const callsBeforeResume = seen.calls.length;
    b.connect();
    await allOnline([a, b]);
    await waitFor(() => seen.last?.data?.length === 6, "b catches up with every change");
    expect(seen.last?.data).toEqual([
      { id: created[0], text: "todo 0, edited", rank: 0 },
      { id: created[2], text: "todo 2", rank: 2 },
      { id: created[3], text: "todo 3", rank: 3 },
      { id: created[4], text: "todo 4", rank: 4 },
      { id: late, text: "todo 5", rank: 5 },
      { id: last, text: "todo 6", rank: 6 },
    ]);
    // Only what changed came over the wire: the untouched documents were not sent again.
    const sinceResume = frames.received
      .slice(receivedBefore)
      .flatMap((message) => ("triples" in message ? message.triples : []));
    const sent = idsIn(sinceResume);
    for (const untouched of created.slice(2)) expect(sent.has(untouched)).toBe(false);
    expect(sent).toEqual(new Set([created[0], created[1], late, last]));
    // Every callback after the resume shows a new result: nothing applied twice.
    const resumedCalls = seen.calls.slice(callsBeforeResume);
    expect(resumedCalls.length).toBeGreaterThan(0);
    expect(resumedCalls.length).toBeLessThanOrEqual(2);
    for (let i = 1; i < seen.calls.length; i++) expect(seen.calls[i]!.data).not.toEqual(seen.calls[i - 1]!.data);

    // A change after all that arrives once, in one callback.
    const callsBeforeSentinel = seen.calls.length;
    await a.database.todos.update({ id: last, fields: { text: "todo 6, edited" } });
    await waitFor(() => seen.last?.data?.[5]?.text === "todo 6, edited", "a later change");
    expect(seen.calls).toHaveLength(callsBeforeSentinel + 1);
  });
});

describe("HTTP", () => {
  it("preloads over HTTP with a cursor, and a subscription from it receives only what changed since", async () => {
    const app = newApp();
    const a = connect(app);
    const ids: string[] = [];
    for (const [text, rank] of [
      ["milk", 1],
      ["eggs", 2],
      ["bread", 3],
    ] as const)
      ids.push((await a.database.todos.create({ text, rank })).data!.id);
    await a.database.todos.create({ text: "done already", done: true, rank: 4 });
    await allOnline([a]);

    // As in a Next.js server component: a Node client asks the server.
    const node = connect(app);
    const query = { where: { done: false }, orderBy: ["rank", "asc"], fields: { id: true, text: true } } as const;
    const preloaded = await node.database.todos.preload(query);
    expect(preloaded.error).toBeUndefined();
    expect(preloaded.data!.cursor).toMatch(/^\d+$/);
    // The data survives serialisation as framework props.
    const props = JSON.parse(JSON.stringify(preloaded.data)) as typeof preloaded.data & {};
    await node.close();

    await a.database.todos.update({ id: ids[0]!, fields: { text: "oat milk" } });
    const added = (await a.database.todos.create({ text: "butter", rank: 5 })).data!.id;
    await allOnline([a]);

    const [browser, frames] = connectRecorded(app);
    const seen = recorder<readonly Row[]>();
    browser.database.todos.subscribe(props, seen.callback);
    expect(seen.calls[0]).toEqual({
      data: [
        { id: ids[0], text: "milk" },
        { id: ids[1], text: "eggs" },
        { id: ids[2], text: "bread" },
      ],
      error: undefined,
      loading: false,
    });
    await waitFor(() => seen.last?.data?.length === 4, "what changed since the preload");
    expect(seen.last?.data).toEqual([
      { id: ids[0], text: "oat milk" },
      { id: ids[1], text: "eggs" },
      { id: ids[2], text: "bread" },
      { id: added, text: "butter" },
    ]);
    expect(seen.calls.every((call) => !call.loading)).toBe(true);
    expect(frames.sentOf("subscribe").map((message) => message.cursor)).toEqual([props.cursor]);
    const snapshot = frames.receivedOf("snapshot")[0]!;
    expect(idsIn(snapshot.triples)).toEqual(new Set([ids[0], added]));
  });

  it("pushes an entry larger than 512 KiB over HTTP and it reaches another client", async () => {
    const app = newApp();
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const [a, frames] = connectRecorded(app);
    const b = connect(app);
    const seen = recorder<readonly Row[]>();
    b.database.todos.subscribe({ fields: { id: true, text: true } }, seen.callback);
    await allOnline([a, b]);

    const large = "x".repeat(700 * 1024);
    // Disconnected on purpose, the large write waits too: no HTTP push behind the user's back.
    a.disconnect();
    const created = (await a.database.todos.create({ text: large })).data!;
    await a.database.todos.create({ text: "small, after it" });
    const observer = connect(app);
    expect((await observer.database.todos.query({})).data).toEqual([]);
    expect(fetchSpy.mock.calls.filter(([url]) => String(url).endsWith("/v1/push"))).toEqual([]);
    expect(a.connection.pending).toBe(2);

    a.connect();
    await allOnline([a]);
    await waitFor(() => seen.last?.data?.length === 2, "both documents reach b");
    expect(seen.last?.data?.find((row) => row.id === created.id)?.text).toBe(large);
    // In write order: the small write made after the large one never arrives before it.
    for (const call of seen.calls) {
      const arrived = (call.data ?? []).map((row) => row.id);
      if (arrived.length > 0) expect(arrived).toContain(created.id);
    }
    const pushedOverHttp = fetchSpy.mock.calls.filter(([url]) => String(url).endsWith("/v1/push"));
    expect(pushedOverHttp).toHaveLength(1);
    // The large entry did not go through the socket; the small one did.
    for (const push of frames.sentOf("push")) expect(JSON.stringify(push).length).toBeLessThan(512 * 1024);
    expect(
      frames.sentOf("push").some((push) => push.triples.some((triple) => triple.value === "small, after it")),
    ).toBe(true);
  });
});

describe("JWT auth", () => {
  const secret = "a-test-secret-that-is-long-enough";
  const sign = (subject: string, key = secret) =>
    new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(subject)
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode(key));

  it("takes the user id from the token's sub, and leaves a client with a bad token offline with UNAUTHORIZED", async () => {
    const secured = await startServerProcess({ args: ["--jwt-secret", secret] });
    servers.push(secured);
    const app = newApp();
    const token = await sign("user-42");
    // A claimed user id is ignored when the server checks tokens, and cannot author documents.
    const [claiming, frames] = connectRecorded(app, { auth: { token }, userId: "mallory" }, secured);
    await allOnline([claiming]);
    expect(frames.receivedOf("welcome").map((welcome) => welcome.userId)).toEqual(["user-42"]);
    const warnings = vi.spyOn(console, "warn").mockImplementation(() => {});
    await claiming.database.todos.create({ text: "as mallory" });
    await waitFor(
      () => claiming.connection.lastError?.code === "VALIDATION",
      "the write naming mallory as createdBy is refused",
    );
    expect(claiming.connection.lastError?.message).toMatch(/createdBy/);
    warnings.mockRestore();
    const good = connect(app, { auth: { token }, userId: "user-42" }, secured);
    await good.database.todos.create({ text: "signed" });
    await allOnline([good]);

    const [renewing, renewingFrames] = connectRecorded(app, { auth: { getToken: () => sign("user-7") } }, secured);
    expect((await renewing.database.todos.query({ fields: { text: true } })).data).toEqual([{ text: "signed" }]);
    expect(renewingFrames.receivedOf("welcome").map((welcome) => welcome.userId)).toEqual(["user-7"]);

    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const forged = await sign("user-42", "another-secret-just-as-long!!");
    const bad = connect(app, { auth: { token: forged } }, secured);
    const states = new Set<ConnectionState>([bad.connection.state]);
    bad.connection.subscribe(({ state }) => states.add(state));
    await bad.database.todos.create({ text: "forged" });
    await waitFor(
      () => bad.connection.lastError?.code === "UNAUTHORIZED" && bad.connection.state === "offline",
      () => `bad token refused; now ${bad.connection.state}, ${bad.connection.lastError?.code}`,
    );
    expect(bad.connection.pending).toBe(1);
    expect([...states].sort()).toEqual(["connecting", "offline"]);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("token"));
    // HTTP refuses it too, and nothing of its reached the server.
    expect((await bad.database.todos.preload({})).error?.code).toBe("UNAUTHORIZED");
    const noToken = connect(app, {}, secured);
    expect((await noToken.database.todos.preload({})).error?.code).toBe("UNAUTHORIZED");
    const check = (await renewing.database.todos.preload({ fields: { text: true } })).data!;
    expect(check.data).toEqual([{ text: "signed" }]);
  });

  it("renews a token about to expire through getToken, on the open connection", async () => {
    const secured = await startServerProcess({ args: ["--jwt-secret", secret] });
    servers.push(secured);
    const app = newApp();
    let issued = 0;
    // Tokens that live 3 s: the server asks for a fresh one 1.5 s before each expires.
    const shortLived = () => {
      issued++;
      return new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("user-9")
        .setExpirationTime(Math.floor(Date.now() / 1000) + 3)
        .sign(new TextEncoder().encode(secret));
    };
    const [client, frames] = connectRecorded(app, { auth: { getToken: shortLived }, userId: "user-9" }, secured);
    await allOnline([client]);
    await waitFor(
      () => frames.receivedOf("tokenAccepted").length >= 2,
      "two tokens renewed on the open connection",
      15_000,
    );
    // One connection all along: one welcome, a fresh token per renewal, and writes still go through.
    expect(frames.receivedOf("welcome")).toHaveLength(1);
    expect(frames.sentOf("token").length).toBeGreaterThanOrEqual(2);
    expect(issued).toBeGreaterThanOrEqual(3);
    await client.database.todos.create({ text: "after renewals" });
    await waitFor(() => client.connection.pending === 0, "the write is acknowledged");
    expect(client.connection.state).toBe("online");
    expect(client.connection.lastError).toBeUndefined();
  }, 30_000);
});
