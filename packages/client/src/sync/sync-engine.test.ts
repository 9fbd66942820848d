import {
  createSchema,
  decodeHlc,
  encodeHlc,
  PROTOCOL_VERSION,
  type ServerMessage,
  t,
  type Triple,
} from "@trellis/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { createFakeWebSocket } from "../testing/fake-sync.js";

const schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }), age: t.number({ optional: true }) },
    posts: { title: t.string({ fallback: "" }), authorId: t.ref("users"), tagIds: t.refMany("tags") },
    tags: { label: t.string({ fallback: "" }) },
  },
});

const NOW = Date.now();
const serverHlc = (ms = NOW) => encodeHlc({ ticks: ms * 1024, node: "server" });
const WELCOME: ServerMessage = { type: "welcome", serverHlc: serverHlc(), userId: "alice" };
const remote = (collection: string, id: string, fields: Record<string, unknown>, ms = NOW - 1_000): Triple[] =>
  Object.entries(fields).map(([field, value]) => ({
    collection,
    id,
    field,
    value,
    hlc: encodeHlc({ ticks: ms * 1024, node: "other" }),
  }));
const remoteUser = (id: string, name: string, age?: number) =>
  remote("users", id, { name, ...(age === undefined ? {} : { age }), createdAt: NOW - 5_000 });
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

let clients: TrellisClient<typeof schema>[] = [];
afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()));
  clients = [];
  vi.restoreAllMocks();
});

function setup(options: { auth?: { token: string } } = {}) {
  const fake = createFakeWebSocket();
  const client = createClient({
    schema,
    appId: "app",
    clientId: "c1",
    userId: "alice",
    serverUrl: "http://127.0.0.1:9/base/",
    WebSocket: fake.WebSocket,
    // Reconnects in these tests happen on connect(), never on a timer.
    reconnect: { baseMs: 3_600_000, maxMs: 3_600_000 },
    ...options,
  });
  clients.push(client);
  const socket = () => fake.last();
  const welcome = () => {
    socket().open();
    socket().receive(WELCOME);
  };
  /** Drops the connection and connects again (welcomed). */
  const reconnect = () => {
    socket().drop();
    client.connect();
    welcome();
  };
  const states: string[] = [];
  client.connection.subscribe(({ state, pending }) => states.push(`${state}:${pending}`));
  return { client, db: client.database, fake, socket, welcome, reconnect, states };
}

describe("handshake and connection state", () => {
  it("connects at once to /v1/sync and says hello with the app, client and user", () => {
    const { socket, client } = setup({ auth: { token: "a.b.c" } });
    expect(client.connection.state).toBe("connecting");
    expect(socket().url).toBe("ws://127.0.0.1:9/base/v1/sync");
    socket().open();
    expect(socket().sent).toEqual([
      { type: "hello", protocol: PROTOCOL_VERSION, appId: "app", clientId: "c1", token: "a.b.c", userId: "alice" },
    ]);
  });

  it("is online once welcomed with nothing to sync, and syncing while writes or snapshots are outstanding", async () => {
    const { client, db, socket, welcome, states } = setup();
    welcome();
    expect(client.connection.getCurrentState()).toEqual({ state: "online", pending: 0, lastError: undefined });
    const subscription = db.users.subscribe({}, () => {});
    expect(client.connection.state).toBe("syncing");
    await tick();
    const { queryId } = socket().sentOf("subscribe")[0]!;
    socket().receive({ type: "snapshot", queryId, triples: [], cursor: "1" });
    expect(client.connection.state).toBe("online");
    await db.users.create({ name: "Ada" });
    expect(client.connection.pending).toBe(1);
    expect(client.connection.state).toBe("syncing");
    await tick();
    socket().receive({ type: "ack", batchId: socket().sentOf("push")[0]!.batchId, cursor: "2" });
    expect(client.connection.pending).toBe(0);
    expect(states).toEqual(["online:0", "syncing:0", "online:0", "syncing:1", "online:0"]);
    subscription.unsubscribe();
  });

  it("folds the server's clock into the client's, so later writes sort after it", async () => {
    const { db, socket } = setup();
    const ahead = NOW + 30_000;
    socket().open();
    socket().receive({ type: "welcome", serverHlc: serverHlc(ahead), userId: null });
    await db.users.create({ name: "Ada" });
    await tick();
    const written = socket().sentOf("push")[0]!.triples[0]!;
    expect(decodeHlc(written.hlc).data!.ticks).toBeGreaterThan(ahead * 1024);
  });

  it("reports an error the server sends before welcome in lastError, warning once however often it repeats", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const { client, socket } = setup();
    for (let i = 0; i < 3; i++) {
      socket().open();
      socket().receive({ type: "error", code: "UNAUTHORIZED", message: "The token was refused." });
      expect(client.connection.state).toBe("offline");
      client.connect();
    }
    expect(client.connection.lastError?.code).toBe("UNAUTHORIZED");
    expect(warn).toHaveBeenCalledTimes(1);
    socket().open();
    socket().receive(WELCOME);
    expect(client.connection.lastError).toBeUndefined();
  });

  it("goes offline on a malformed frame and reconnects", () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const { client, socket, welcome, fake } = setup();
    welcome();
    socket().receive("not json");
    expect(client.connection.state).toBe("offline");
    expect(client.connection.lastError?.code).toBe("PROTOCOL");
    expect(fake.sockets[0]!.isClosedByClient).toBe(true);
  });

  it("keeps working locally after disconnect(), and pushes on connect()", async () => {
    const { client, db, socket, welcome } = setup();
    welcome();
    client.disconnect();
    expect(client.connection.state).toBe("offline");
    await db.users.create({ name: "Ada" });
    await db.users.create({ name: "Bob" });
    expect(client.connection.pending).toBe(2);
    expect((await db.users.query({ fields: { name: true }, orderBy: ["name", "asc"] })).data).toEqual([
      { name: "Ada" },
      { name: "Bob" },
    ]);
    client.connect();
    welcome();
    const pushes = socket().sentOf("push");
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.triples.filter((triple) => triple.field === "name").map((triple) => triple.value)).toEqual([
      "Ada",
      "Bob",
    ]);
  });

  it("gives a local-only client a connection that is offline and cannot connect", () => {
    const client = createClient({ schema });
    expect(client.connection.getCurrentState()).toEqual({ state: "offline", pending: 0, lastError: undefined });
    expect(() => client.connect()).toThrow(/serverUrl/);
    client.disconnect();
  });

  it("refuses a malformed serverUrl and auth", () => {
    expect(() => createClient({ schema, serverUrl: "127.0.0.1:8787" })).toThrow(/http\(s\) URL/);
    expect(() => createClient({ schema, serverUrl: "ftp://x" })).toThrow(/http\(s\) URL/);
    expect(() => createClient({ schema, serverUrl: "http://x", auth: { token: 5 } as never })).toThrow(/auth/);
  });
});

describe("outbox", () => {
  it("turns each write call into one entry holding the triples it wrote, in order", async () => {
    let n = 0;
    const fake = createFakeWebSocket();
    const client = createClient({
      schema,
      clientId: "c1",
      userId: "alice",
      serverUrl: "http://x",
      WebSocket: fake.WebSocket,
      generateId: () => `id${n++}`,
    });
    clients.push(client);
    const db = client.database;
    const ada = (await db.users.create({ name: "Ada", age: 36 })).data!;
    await db.posts.create({ title: "Hi", authorId: ada.id, tagIds: ["t1", "t2"] });
    await db.posts.update({ id: "id1", fields: { tagIds: ["t2", "t3"], title: "Hello" } });
    await db.users.updateMany({ where: {}, fields: { age: 37 } });
    await db.batch.execute([db.batch.users.create({ name: "Bob" }), db.batch.posts.delete("id1")]);
    await db.users.delete(ada.id);
    expect(client.connection.pending).toBe(6);
    fake.last().open();
    fake.last().receive(WELCOME);
    const [frame] = fake.last().sentOf("push");
    const shape = (triple: Triple) => [
      triple.collection,
      triple.id,
      triple.field,
      ...(triple.element === undefined ? [] : [triple.element]),
      triple.value,
    ];
    expect(frame!.triples.map(shape)).toEqual([
      ["users", "id0", "name", "Ada"],
      ["users", "id0", "age", 36],
      ["users", "id0", "createdAt", ada.createdAt.getTime()],
      ["users", "id0", "createdBy", "alice"],
      ["posts", "id1", "title", "Hi"],
      ["posts", "id1", "authorId", "id0"],
      ["posts", "id1", "createdAt", expect.any(Number)],
      ["posts", "id1", "createdBy", "alice"],
      ["posts", "id1", "tagIds", "t1", true],
      ["posts", "id1", "tagIds", "t2", true],
      ["posts", "id1", "title", "Hello"],
      ["posts", "id1", "tagIds", "t1", false],
      ["posts", "id1", "tagIds", "t3", true],
      ["users", "id0", "age", 37],
      ["users", "id2", "name", "Bob"],
      ["users", "id2", "createdAt", expect.any(Number)],
      ["users", "id2", "createdBy", "alice"],
      ["posts", "id1", "$deleted", true],
      ["users", "id0", "$deleted", true],
    ]);
    // One clock reading per write: later writes carry later ones.
    const hlcs = frame!.triples.map((triple) => triple.hlc);
    expect([...hlcs].sort()).toEqual(hlcs);
  });

  it("records nothing for a write that fails", async () => {
    const { client, db } = setup();
    await db.users.update({ id: "nope", fields: { name: "x" } });
    await db.users.create({ name: 5 } as never);
    expect(client.connection.pending).toBe(0);
  });

  it("sends one frame per tick of writes, and resends what is unacknowledged after a reconnect", async () => {
    const { client, db, socket, welcome, reconnect } = setup();
    welcome();
    await Promise.all([db.users.create({ name: "Ada" }), db.users.create({ name: "Bob" })]);
    await tick();
    await db.users.create({ name: "Cy" });
    await tick();
    const [first, second] = socket().sentOf("push");
    expect(second).toBeDefined();
    socket().receive({ type: "ack", batchId: first!.batchId, cursor: "5" });
    expect(client.connection.pending).toBe(1);
    reconnect();
    expect(socket().sentOf("push")).toEqual([second]);
  });

  it("drops a batch the server refuses, shows the error and warns", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const { client, db, socket, welcome } = setup();
    welcome();
    await db.users.create({ name: "Ada" });
    await tick();
    const { batchId } = socket().sentOf("push")[0]!;
    socket().receive({
      type: "error",
      code: "CLOCK_DRIFT",
      message: "Your clock is 2 minutes ahead.",
      details: { batchId },
    });
    expect(client.connection.pending).toBe(0);
    expect(client.connection.lastError).toMatchObject({ code: "CLOCK_DRIFT", details: { batchId } });
    expect(client.connection.state).toBe("online");
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("2 minutes ahead"));
  });
});

describe("subscriptions", () => {
  it("subscribes once per distinct query and unsubscribes when the last use ends", async () => {
    const { db, socket, welcome } = setup();
    welcome();
    const a = db.users.subscribe({ where: { age: 3 } }, () => {});
    const b = db.users.subscribe({ where: { age: 3 } }, () => {});
    const c = db.users.subscribe({ where: { age: 4 } }, () => {});
    await tick();
    const subscribes = socket().sentOf("subscribe");
    expect(subscribes.map(({ query, cursor }) => [query.where, cursor])).toEqual([
      [[{ field: "age", op: "equals", operand: 3 }], null],
      [[{ field: "age", op: "equals", operand: 4 }], null],
    ]);
    a.unsubscribe();
    await tick();
    expect(socket().sentOf("unsubscribe")).toEqual([]);
    b.unsubscribe();
    c.unsubscribe();
    await tick();
    expect(
      socket()
        .sentOf("unsubscribe")
        .map(({ queryId }) => queryId),
    ).toEqual(subscribes.map(({ queryId }) => queryId));
  });

  it("sends nothing for a query followed and dropped within one tick", async () => {
    const { db, socket, welcome } = setup();
    welcome();
    db.users.subscribe({}, () => {}).unsubscribe();
    await tick();
    expect(socket().sent.map((message) => message.type)).toEqual(["hello"]);
  });

  it("is loading until the snapshot arrives, then calls back once with the data", async () => {
    const { db, socket, welcome } = setup();
    welcome();
    const calls: unknown[] = [];
    const subscription = db.users.subscribe(
      { fields: { name: true }, orderBy: ["name", "asc"] },
      (data, error, loading) => calls.push({ data, loading }),
    );
    expect(calls).toEqual([{ data: undefined, loading: true }]);
    expect(subscription.getCurrentState().loading).toBe(true);
    await tick();
    const { queryId } = socket().sentOf("subscribe")[0]!;
    socket().receive({
      type: "snapshot",
      queryId,
      triples: [...remoteUser("u1", "Bob"), ...remoteUser("u2", "Ada")],
      cursor: "7",
    });
    expect(calls).toEqual([
      { data: undefined, loading: true },
      { data: [{ name: "Ada" }, { name: "Bob" }], loading: false },
    ]);
    socket().receive({
      type: "changes",
      triples: [...remoteUser("u3", "Cy"), ...remote("users", "u1", { name: "Abe" }, NOW)],
      cursor: "8",
    });
    expect(calls.slice(2)).toEqual([{ data: [{ name: "Abe" }, { name: "Ada" }, { name: "Cy" }], loading: false }]);
  });

  it("stops loading a query the server refuses, showing the error in lastError", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const { client, db, socket, welcome } = setup();
    welcome();
    await db.users.create({ name: "Ada" });
    const calls: unknown[] = [];
    db.users.subscribeOne({ fields: { name: true } }, (data, error, loading) => calls.push({ data, loading }));
    await tick();
    const { queryId } = socket().sentOf("subscribe")[0]!;
    socket().receive({ type: "error", code: "UNAUTHORIZED", message: "Not yours.", details: { queryId } });
    expect(calls).toEqual([
      { data: undefined, loading: true },
      { data: { name: "Ada" }, loading: false },
    ]);
    expect(client.connection.lastError?.code).toBe("UNAUTHORIZED");
    expect(client.connection.state).toBe("syncing"); // the write is still unacknowledged
  });

  it("answers a waiting one-shot query from local data when the connection drops", async () => {
    const { db, socket, welcome } = setup();
    welcome();
    await db.users.create({ name: "Ada" });
    const answer = db.users.query({ fields: { name: true } });
    await tick();
    socket().drop();
    expect((await answer).data).toEqual([{ name: "Ada" }]);
  });

  it("ignores deltas of documents it does not hold", async () => {
    const { db, socket, welcome } = setup();
    welcome();
    const calls: unknown[] = [];
    db.users.subscribe({ fields: { name: true } }, (data) => calls.push(data));
    await tick();
    socket().receive({ type: "snapshot", queryId: socket().sentOf("subscribe")[0]!.queryId, triples: [], cursor: "1" });
    socket().receive({ type: "changes", triples: remote("users", "u9", { name: "half" }), cursor: "2" });
    expect(calls).toEqual([undefined, []]);
  });

  it("answers at once from local data when offline, and stops loading when the connection drops", async () => {
    const { client, db, socket, welcome } = setup();
    await db.users.create({ name: "Ada" });
    const waiting: unknown[] = [];
    db.users.subscribe({ fields: { name: true } }, (data, error, loading) => waiting.push({ data, loading }));
    expect(waiting).toEqual([{ data: undefined, loading: true }]);
    socket().drop();
    expect(waiting).toEqual([
      { data: undefined, loading: true },
      { data: [{ name: "Ada" }], loading: false },
    ]);
    const offline: unknown[] = [];
    db.users.subscribe({ fields: { name: true, age: true } }, (data, error, loading) =>
      offline.push({ data, loading }),
    );
    expect(offline).toEqual([{ data: [{ name: "Ada" }], loading: false }]);
    // Reconnecting does not make a shown result load again.
    client.connect();
    welcome();
    expect(waiting).toHaveLength(2);
    expect(offline).toHaveLength(1);
  });

  it("resubscribes after a reconnect from each query's last cursor, moved by changes only once its snapshot came", async () => {
    const { db, socket, welcome, reconnect } = setup();
    welcome();
    db.users.subscribe({ where: { age: 1 } }, () => {});
    db.users.subscribe({ where: { age: 2 } }, () => {});
    await tick();
    const [first, second] = socket().sentOf("subscribe");
    socket().receive({ type: "snapshot", queryId: first!.queryId, triples: [], cursor: "10" });
    socket().receive({ type: "changes", triples: [], cursor: "12" });
    reconnect();
    expect(
      socket()
        .sentOf("subscribe")
        .map(({ queryId, cursor }) => [queryId, cursor]),
    ).toEqual([
      [first!.queryId, "12"],
      [second!.queryId, null],
    ]);
  });

  it("does not load a query synced before, and continues from its cursor", async () => {
    const { db, socket, welcome } = setup();
    welcome();
    const query = { fields: { name: true } } as const;
    db.users.subscribe(query, () => {}).unsubscribe();
    const first = db.users.subscribe(query, () => {});
    await tick();
    socket().receive({
      type: "snapshot",
      queryId: socket().sentOf("subscribe")[0]!.queryId,
      triples: remoteUser("u1", "Ada"),
      cursor: "3",
    });
    first.unsubscribe();
    await tick();
    const calls: unknown[] = [];
    db.users.subscribe(query, (data, error, loading) => calls.push({ data, loading }));
    expect(calls).toEqual([{ data: [{ name: "Ada" }], loading: false }]);
    await tick();
    expect(socket().sentOf("subscribe").at(-1)!.cursor).toBe("3");
  });

  it("syncs the documents an aggregate aggregates", async () => {
    const { db, socket, welcome } = setup();
    welcome();
    const calls: unknown[] = [];
    db.users.subscribe(
      { aggregations: { n: { count: "*" }, total: { sum: "age" } }, where: { name: { startsWith: "A" } } },
      (data, error, loading) => calls.push({ data, loading }),
    );
    await tick();
    const { queryId, query } = socket().sentOf("subscribe")[0]!;
    expect(query).toEqual({
      collection: "users",
      select: ["id"],
      where: [{ field: "name", op: "startsWith", operand: "A" }],
      orderBy: [],
      specs: { id: { type: "string", optional: false }, name: { type: "string", optional: false, fallback: "" } },
    });
    socket().receive({
      type: "snapshot",
      queryId,
      triples: [...remoteUser("u1", "Ada", 30), ...remoteUser("u2", "Al", 12)],
      cursor: "4",
    });
    expect(calls).toEqual([
      { data: undefined, loading: true },
      { data: [{ n: 2, total: 42 }], loading: false },
    ]);
  });

  it("answers a one-shot query after the server did, and at once when a live subscription covers it", async () => {
    const { db, socket, welcome } = setup();
    welcome();
    const query = { fields: { name: true } } as const;
    const answer = db.users.query(query);
    await tick();
    const { queryId } = socket().sentOf("subscribe")[0]!;
    socket().receive({ type: "snapshot", queryId, triples: remoteUser("u1", "Ada"), cursor: "2" });
    expect((await answer).data).toEqual([{ name: "Ada" }]);
    await tick();
    expect(socket().sentOf("unsubscribe")).toEqual([{ type: "unsubscribe", queryId }]);

    const live = db.users.subscribe(query, () => {});
    await tick();
    socket().receive({ type: "snapshot", queryId: socket().sentOf("subscribe")[1]!.queryId, triples: [], cursor: "3" });
    const sent = socket().sent.length;
    // Covered: the same query, its first match, another order, an aggregate over the same documents.
    expect((await db.users.query(query)).data).toEqual([{ name: "Ada" }]);
    expect((await db.users.queryOne(query)).data).toEqual({ name: "Ada" });
    expect((await db.users.query({ fields: { id: true }, orderBy: ["name", "desc"], limit: 5 })).data).toEqual([
      { id: "u1" },
    ]);
    expect((await db.users.query({ aggregations: { n: { count: "*" } } })).data).toEqual([{ n: 1 }]);
    await tick();
    expect(socket().sent.slice(sent)).toEqual([]);
    live.unsubscribe();
  });

  it("does not count a filtered or limited subscription as covering other queries", async () => {
    const { db, socket, welcome } = setup();
    welcome();
    db.users.subscribe({ where: { age: 3 } }, () => {});
    db.users.subscribe({ limit: 3 }, () => {});
    await tick();
    for (const { queryId } of socket().sentOf("subscribe"))
      socket().receive({ type: "snapshot", queryId, triples: [], cursor: "1" });
    void db.users.query({});
    void db.users.query({ where: { age: 4 } });
    await tick();
    expect(socket().sentOf("subscribe")).toHaveLength(4);
  });

  it("answers a one-shot query from local data when offline", async () => {
    const { client, db } = setup();
    client.disconnect();
    await db.users.create({ name: "Ada" });
    expect((await db.users.query({ fields: { name: true } })).data).toEqual([{ name: "Ada" }]);
  });

  it("turns to a page the server has not answered once it has, showing the current page meanwhile", async () => {
    const { db, socket, welcome } = setup();
    welcome();
    const pages = db.users.paginated({ fields: { name: true }, orderBy: ["name", "asc"], pageSize: 1 });
    pages.subscribe(() => {});
    await tick();
    const users = ["Ada", "Bob", "Cy"].flatMap((name, i) => remoteUser(`u${i}`, name));
    socket().receive({
      type: "snapshot",
      queryId: socket().sentOf("subscribe")[0]!.queryId,
      triples: users,
      cursor: "5",
    });
    await tick();
    // The next page (prefetched) has no answer yet: turning to it waits for one.
    let hasTurned = false;
    const turned = pages.next().then(() => (hasTurned = true));
    await tick();
    expect(hasTurned).toBe(false);
    expect(pages.getCurrentState().data).toEqual([{ name: "Ada" }]);
    socket().receive({ type: "snapshot", queryId: socket().sentOf("subscribe")[1]!.queryId, triples: [], cursor: "6" });
    await turned;
    expect(pages.getCurrentState()).toMatchObject({ data: [{ name: "Bob" }], currentPage: 2, loading: false });
  });

  it("loads the first page of a paginated query, and syncs the page after it once it knows there is one", async () => {
    const { db, socket, welcome } = setup();
    welcome();
    const pages = db.users.paginated({ fields: { name: true }, orderBy: ["name", "asc"], pageSize: 2 });
    const states: unknown[] = [];
    pages.subscribe((state) => states.push({ data: state.data, loading: state.loading, hasNext: state.hasNext }));
    expect(states).toEqual([{ data: undefined, loading: true, hasNext: false }]);
    await tick();
    const [page] = socket().sentOf("subscribe");
    expect(page!.query.limit).toBe(3); // one more than the page: the client learns that a next page exists
    socket().receive({
      type: "snapshot",
      queryId: page!.queryId,
      triples: ["Ada", "Bob", "Cy"].flatMap((name, i) => remoteUser(`u${i}`, name)),
      cursor: "5",
    });
    expect(states.at(-1)).toEqual({ data: [{ name: "Ada" }, { name: "Bob" }], loading: false, hasNext: true });
    await tick();
    const next = socket().sentOf("subscribe")[1]!;
    expect(next.query.after).toEqual({ keys: ["Bob"], id: "u1" });
  });
});

describe("preloaded input", () => {
  it("applies the preloaded triples, follows the query from the preloaded cursor, and never loads", async () => {
    const { db, socket, welcome } = setup();
    const server = createClient({ schema, appId: "app" });
    const query = { fields: { name: true }, orderBy: ["name", "asc"] } as const;
    const base = (await server.database.users.preload(query)).data!;
    const triples = [...remoteUser("u1", "Ada"), ...remoteUser("u2", "Bob")];
    const preloaded = { ...base, data: [{ name: "Ada" }, { name: "Bob" }], cursor: "41", triples };
    const calls: unknown[] = [];
    db.users.subscribe(preloaded, (data, error, loading) => calls.push({ data, error, loading }));
    expect(calls).toEqual([{ data: [{ name: "Ada" }, { name: "Bob" }], error: undefined, loading: false }]);
    welcome();
    await tick();
    expect(socket().sentOf("subscribe")[0]!.cursor).toBe("41");
    expect(calls).toHaveLength(1);
  });

  it("refuses preloaded data with malformed triples", async () => {
    const { db } = setup();
    const server = createClient({ schema, appId: "app" });
    const base = (await server.database.users.preload({})).data!;
    const { error } = db.users
      .subscribe({ ...base, cursor: "1", triples: [{ collection: "users" }] } as never, () => {})
      .getCurrentState();
    expect(error?.code).toBe("VALIDATION");
    expect(error?.message).toContain("triples[0]");
  });
});
