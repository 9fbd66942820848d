import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect as connectTcp } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeHlc, PROTOCOL_VERSION, type Triple } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "./server.js";
import {
  closeAllSockets,
  connect,
  documentTriples,
  futureHlc,
  nextId,
  openSocket,
  post,
  query,
  type RawSocket,
  sortedTriples,
  storedTriples,
  writer,
} from "./testing/raw-socket.js";

const APP = "bad";
const MiB = 1024 * 1024;
let server: ServerProcess;
/** A connection subscribed to every todo of APP since before any bad input. */
let watcher: RawSocket;
/** Every triple the server accepted in APP: what it must store, exactly. */
const accepted: Triple[] = [];
const hlc = writer("good-writer");

beforeAll(async () => {
  server = await startServerProcess();
  watcher = await connect(server.url, APP);
  watcher.send({ type: "subscribe", queryId: "all", query: query("todos"), cursor: null });
  await watcher.next("snapshot");
  await pushGood("seed");
});

afterEach(async () => {
  await closeAllSockets(watcher);
});

afterAll(async () => {
  await closeAllSockets();
  await server.stop();
  removeDataDir(server.dataDir);
});

/** A good write from a fresh connection: acknowledged, and seen by the watcher. */
async function pushGood(id: string): Promise<void> {
  const triples = documentTriples("todos", id, { title: id, done: false }, hlc);
  const pusher = await connect(server.url, APP);
  const batchId = nextId("good");
  pusher.send({ type: "push", batchId, triples });
  await pusher.next("ack", (ack) => ack.batchId === batchId);
  await watcher.next("changes", (message) => message.triples.some((triple) => triple.id === id));
  accepted.push(...triples);
  await pusher.close();
}

/**
 * The server still serves other clients (a new write reaches the watcher, subscribed before the
 * bad input, and nothing else reached it) and stores exactly what it accepted.
 */
async function expectUnharmed(): Promise<void> {
  await pushGood(nextId("marker"));
  expect(watcher.pending()).toEqual([]);
  expect(sortedTriples(await storedTriples(server.url, APP))).toEqual(sortedTriples(accepted));
}

/** Sends a frame on a welcomed connection; expects a PROTOCOL error and a connection still serving. */
async function expectRefused(frame: string, message: RegExp | string = /Refused/): Promise<void> {
  const socket = await connect(server.url, APP);
  socket.sendRaw(frame);
  const error = await socket.next("error");
  expect(error, frame.slice(0, 200)).toMatchObject({ code: "PROTOCOL", message: expect.stringMatching(message) });
  await socket.sync();
  expect(socket.pending()).toEqual([]);
}

/** Sends a frame as the first message: expects a PROTOCOL error, then a close. */
async function expectRefusedBeforeHello(frame: string, message: RegExp | string = /./): Promise<void> {
  const socket = await openSocket(server.url);
  socket.sendRaw(frame);
  const error = await socket.next("error");
  expect(error, frame.slice(0, 200)).toMatchObject({ code: "PROTOCOL", message: expect.stringMatching(message) });
  expect((await socket.closed).code).toBe(1008);
}

/** A triple for the wire; `fields` may break it on purpose. */
const triple = (fields: Partial<Record<keyof Triple, unknown>> = {}): Triple =>
  ({ collection: "todos", id: "bad-doc", field: "title", value: "x", hlc: hlc(), ...fields }) as Triple;
const push = (triples: unknown, batchId: unknown = nextId("bad")) => JSON.stringify({ type: "push", batchId, triples });
const subscribe = (fields: Record<string, unknown>) =>
  JSON.stringify({ type: "subscribe", queryId: "q", query: query("todos"), cursor: null, ...fields });

describe("bad frames over a raw WebSocket", () => {
  it("answers text that is not a JSON object with a PROTOCOL error and keeps serving", async () => {
    for (const frame of ["{not json", "", "[1,2]", "42", "null", '"hello"', '{"type":"ping"} trailing']) {
      await expectRefused(frame, /not valid JSON|expected a JSON object/);
    }
    await expectUnharmed();
  });

  it("refuses unknown message types", async () => {
    for (const frame of [
      '{"type":"delete","id":"x"}',
      '{"type":5}',
      "{}",
      '{"type":"welcome","serverHlc":"x","userId":null}',
      '{"type":"PING"}',
    ]) {
      await expectRefused(frame, /unknown message type/);
    }
    await expectUnharmed();
  });

  it("refuses fields of the wrong type, naming the field", async () => {
    const frames: Array<[string, string]> = [
      [push("not a list"), "triples"],
      [push([triple()], 5), "batchId"],
      [push([triple()], "../x"), "batchId"],
      [push([triple({ hlc: 12 })]), "triples[0].hlc"],
      [push([triple({ hlc: "zzzzzzzzzzz-node" })]), "triples[0].hlc"],
      [push([triple({ collection: "../etc" })]), "triples[0].collection"],
      [push([triple({ field: "a.b" })]), "triples[0].field"],
      [push([triple({ id: "" })]), "triples[0].id"],
      [push([triple({ id: 7 })]), "triples[0].id"],
      [push([triple({ field: "$deleted", value: false })]), "triples[0].value"],
      [push([triple({ element: "g1", value: "yes" })]), "triples[0].value"],
      [push([{ collection: "todos", id: "x", field: "title", hlc: hlc() }]), "triples[0].value"],
      [push([triple({ extra: 1 } as never)]), "triples[0]"],
      [subscribe({ queryId: { id: 1 } }), "queryId"],
      [subscribe({ cursor: 5 }), "cursor"],
      [subscribe({ query: { ...query("todos"), limit: -1 } }), "query.limit"],
      [
        subscribe({ query: { ...query("todos"), where: [{ field: "title", op: "like", operand: "x" }] } }),
        "query.where[0].op",
      ],
      [subscribe({ query: { ...query("todos"), orderBy: [["title", "up"]] } }), "query.orderBy[0][1]"],
      [subscribe({ query: "todos" }), "query"],
      ['{"type":"unsubscribe","queryId":""}', "queryId"],
      ['{"type":"ping","extra":true}', "ping"],
      ['{"type":"hello","protocol":1,"appId":"bad","clientId":"c"}', "hello"],
    ];
    for (const [frame, path] of frames) {
      const socket = await connect(server.url, APP);
      socket.sendRaw(frame);
      const error = await socket.next("error");
      expect(error.code, frame).toBe("PROTOCOL");
      if (path !== "hello") expect(error.details, frame).toEqual({ path });
      await socket.sync();
    }
    await expectUnharmed();
  });

  it("refuses __proto__, constructor and prototype keys anywhere, triple values included", async () => {
    const payload = '{"polluted":true}';
    const frames = [
      `{"type":"ping","__proto__":${payload}}`,
      `{"type":"push","batchId":"b1","triples":[{"collection":"todos","id":"p1","field":"title","hlc":"${hlc()}","value":{"nested":{"__proto__":${payload}}}}]}`,
      `{"type":"push","batchId":"b2","triples":[{"collection":"todos","id":"p1","field":"title","hlc":"${hlc()}","value":{"constructor":{"prototype":${payload}}}}]}`,
      `{"type":"push","batchId":"b3","triples":[{"collection":"todos","id":"p1","field":"title","hlc":"${hlc()}","value":[1,{"__proto__":${payload}}]}]}`,
      `{"type":"push","batchId":"b4","triples":[{"collection":"todos","id":"p1","field":"title","hlc":"${hlc()}","value":"x","__proto__":${payload}}]}`,
      `{"type":"subscribe","queryId":"q","cursor":null,"query":${JSON.stringify(query("todos")).replace('"where":[]', `"where":[{"field":"title","op":"equals","operand":{"__proto__":${payload}}}]`)}}`,
    ];
    expect(frames[5]).toContain("__proto__");
    for (const frame of frames) await expectRefused(frame, /is not allowed anywhere/);
    await expectRefusedBeforeHello(
      `{"type":"hello","protocol":1,"appId":"bad","clientId":"c","__proto__":${payload}}`,
      /is not allowed/,
    );
    await expectUnharmed();
  });

  it("refuses a push whose clock is far ahead, storing none of the batch", async () => {
    const socket = await connect(server.url, APP);
    const batch = [
      ...documentTriples("todos", "from-the-future", { title: "now" }, hlc),
      triple({ id: "from-the-future", hlc: futureHlc(3_600_000) }),
    ];
    socket.send({ type: "push", batchId: "future", triples: batch });
    const error = await socket.next("error");
    expect(error).toMatchObject({
      code: "CLOCK_DRIFT",
      message: expect.stringMatching(/ahead/),
      details: { batchId: "future" },
    });

    const farthest = encodeHlc({ ticks: Number.MAX_SAFE_INTEGER, node: "future" });
    socket.send({ type: "push", batchId: "farthest", triples: [triple({ hlc: farthest })] });
    expect(await socket.next("error")).toMatchObject({ code: "CLOCK_DRIFT", details: { batchId: "farthest" } });

    // The refused readings did not move the server clock: a new connection is told the present.
    const fresh = await connect(server.url, APP);
    const serverTicks = parseInt(fresh.welcome.serverHlc.slice(0, 11), 36);
    expect(serverTicks / 1024).toBeLessThan(Date.now() + 30_000);
    await expectUnharmed();
  });

  it("refuses a push naming another user (or, anonymous, any user) as createdBy, storing none of the batch", async () => {
    const alice = await connect(server.url, APP, { userId: "alice" });
    const spoofed = [
      ...documentTriples("todos", "spoofed", { title: "mine?" }, hlc),
      triple({ id: "spoofed", field: "createdBy", value: "bob" }),
    ];
    alice.send({ type: "push", batchId: "spoof", triples: spoofed });
    expect(await alice.next("error")).toMatchObject({
      code: "VALIDATION",
      message: expect.stringMatching(/createdBy/),
      details: { batchId: "spoof", id: "spoofed", field: "createdBy" },
    });
    const anonymous = await connect(server.url, APP);
    anonymous.send({
      type: "push",
      batchId: "anon-spoof",
      triples: [triple({ id: "spoofed", field: "createdBy", value: "alice" })],
    });
    expect(await anonymous.next("error")).toMatchObject({ code: "VALIDATION", details: { batchId: "anon-spoof" } });
    const overHttp = await post(
      server.url,
      "/v1/push",
      { appId: APP, clientId: "http-client", batchId: "http-spoof", triples: spoofed },
      { "x-trellis-user": "alice" },
    );
    expect(overHttp).toMatchObject({
      status: 400,
      body: { error: { code: "VALIDATION", details: { batchId: "http-spoof" } } },
    });
    await expectUnharmed();
    // Naming itself is fine.
    const own = [
      ...documentTriples("todos", "alices", { title: "mine" }, hlc),
      triple({ id: "alices", field: "createdBy", value: "alice" }),
    ];
    alice.send({ type: "push", batchId: "own", triples: own });
    await alice.next("ack", (ack) => ack.batchId === "own");
    await watcher.next("changes", (message) => message.triples.some((each) => each.id === "alices"));
    accepted.push(...own);
    await expectUnharmed();
  });

  it("refuses a frame over 1 MiB before parsing it, and closes on one far over", async () => {
    const socket = await connect(server.url, APP);
    const big = push([triple({ value: "x".repeat(MiB) })]);
    socket.sendRaw(big);
    expect(await socket.next("error")).toMatchObject({
      code: "PROTOCOL",
      message: expect.stringMatching(/larger than the limit/),
      details: { maxBytes: MiB },
    });
    // Counted in UTF-8 bytes: 400k three-byte characters are 1.2 MB though only 400k code units.
    socket.sendRaw(push([triple({ value: "€".repeat(400_000) })]));
    expect(await socket.next("error")).toMatchObject({ code: "PROTOCOL", details: { maxBytes: MiB } });
    await socket.sync();

    const huge = await connect(server.url, APP);
    huge.sendRaw(push([triple({ value: "x".repeat(3 * MiB) })]));
    expect((await huge.closed).code).toBe(1009);
    await expectUnharmed();
  });

  it("accepts a frame just under 1 MiB", async () => {
    const socket = await connect(server.url, "big-frames");
    const triples: Array<{ -readonly [K in keyof Triple]: Triple[K] }> = [triple({ id: "big", value: "" })];
    const room = MiB - push(triples, "just-under").length;
    triples[0]!.value = "y".repeat(room);
    expect(Buffer.byteLength(push(triples, "just-under"))).toBe(MiB);
    socket.sendRaw(push(triples, "just-under"));
    expect(await socket.next("ack")).toMatchObject({ batchId: "just-under" });
    expect((await storedTriples(server.url, "big-frames")).map((each) => each.id)).toEqual(["big"]);
  });

  it("refuses binary frames and closes", async () => {
    const socket = await connect(server.url, APP);
    socket.sendRaw(Buffer.from(JSON.stringify({ type: "ping" })), { binary: true });
    expect(await socket.next("error")).toMatchObject({
      code: "PROTOCOL",
      message: expect.stringMatching(/Binary frames/),
    });
    expect((await socket.closed).code).toBe(1003);
    await expectUnharmed();
  });

  it("closes a connection that sends text that is not UTF-8", async () => {
    const socket = await connect(server.url, APP);
    socket.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect((await socket.closed).code).toBe(1007);
    await expectUnharmed();
  });

  it("refuses messages before hello, and closes", async () => {
    await expectRefusedBeforeHello(
      JSON.stringify({ type: "subscribe", queryId: "q", query: query("todos"), cursor: null }),
      /first message must be "hello"/,
    );
    await expectRefusedBeforeHello(push([triple()]), /first message must be "hello"/);
    await expectRefusedBeforeHello("not json", /not valid JSON/);
    await expectRefusedBeforeHello(
      JSON.stringify({ type: "hello", protocol: PROTOCOL_VERSION + 1, appId: APP, clientId: "c" }),
      /protocol version/,
    );
    await expectUnharmed();
  });

  it("refuses a second hello and keeps the first one's app", async () => {
    const socket = await connect(server.url, APP);
    socket.send({ type: "hello", protocol: PROTOCOL_VERSION, appId: "other-app", clientId: "c2" });
    expect(await socket.next("error")).toMatchObject({
      code: "PROTOCOL",
      message: expect.stringMatching(/already received/),
    });
    const id = nextId("second-hello");
    const triples = documentTriples("todos", id, { title: id }, hlc);
    socket.send({ type: "push", batchId: "after-second-hello", triples });
    await socket.next("ack");
    accepted.push(...triples);
    await watcher.next("changes", (message) => message.triples.some((each) => each.id === id));
    expect(await storedTriples(server.url, "other-app")).toEqual([]);
    await expectUnharmed();
  });

  it("refuses app ids that could name a file outside the data folder", async () => {
    for (const appId of ["../x", "..", "a/b", "a\\b", "", "x".repeat(65), "x.sqlite", "%2e%2e%2fx", "a b", "é"]) {
      await expectRefusedBeforeHello(
        JSON.stringify({ type: "hello", protocol: PROTOCOL_VERSION, appId, clientId: "c" }),
        /appId/,
      );
      const answer = await post(server.url, "/v1/query", { appId, query: query("todos"), cursor: null });
      expect(answer.status, appId).toBe(400);
      expect(["PROTOCOL", "VALIDATION"]).toContain(answer.body.error.code);
    }
    expect(existsSync(join(server.dataDir, "..", "x.sqlite"))).toBe(false);
    // The registry of apps is always there; refused ids add no file.
    const files = readdirSync(server.dataDir).filter(
      (file) => !/^(bad|big-frames|other-app|failing-query|trellis\.apps)\.sqlite(-wal|-shm)?$/.test(file),
    );
    expect(files).toEqual([]);
    await expectUnharmed();
  });

  it("closes a connection after many bad frames in a row", async () => {
    const socket = await connect(server.url, APP);
    for (let i = 0; i < 50; i++) socket.sendRaw(`bad frame ${i}`);
    const closed = await socket.closed;
    expect(closed).toMatchObject({ code: 1008, reason: expect.stringMatching(/malformed/) });
    const errors = socket.pending().filter((message) => message.type === "error");
    // Each bad frame up to the limit got its error; the rest went unanswered.
    expect(errors.length).toBeGreaterThan(1);
    expect(errors.length).toBeLessThan(50);
    await expectUnharmed();
  });

  it("refuses a query the engine could not evaluate (a non-list operand of notIn) and keeps serving", async () => {
    const failing = {
      ...query("todos", { where: { tags: "x" } }),
      where: [{ field: "tags", op: "notIn", operand: 5 }],
    };
    const subscriber = await connect(server.url, APP);
    subscriber.send({ type: "subscribe", queryId: "failing", query: failing, cursor: null });
    expect(await subscriber.next("error")).toMatchObject({
      code: "PROTOCOL",
      details: { path: "query.where[0].operand" },
    });
    await expectUnharmed();
  });

  it("answers a malformed upgrade request and keeps serving", async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const tcp = connectTcp(server.port, "127.0.0.1", () =>
        tcp.end(
          "GET // HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
        ),
      );
      let text = "";
      tcp.on("data", (chunk) => (text += chunk.toString("utf8")));
      tcp.on("close", () => resolve(text));
      tcp.on("error", reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 404/);
    await expectUnharmed();
  });
});

describe("bad HTTP bodies", () => {
  const goodQuery = () => ({ appId: APP, query: query("todos"), cursor: null });
  const goodPush = () => ({
    appId: APP,
    clientId: "http-client",
    batchId: nextId("http"),
    triples: [triple({ id: "http-doc" })],
  });

  it("refuses malformed /v1/query bodies with 400 and a JSON error", async () => {
    const bodies: unknown[] = [
      "",
      "{",
      "[]",
      "null",
      '"text"',
      { appId: APP },
      { ...goodQuery(), extra: 1 },
      { ...goodQuery(), appId: 5 },
      { ...goodQuery(), cursor: "abc" },
      { ...goodQuery(), cursor: 12 },
      { ...goodQuery(), query: { ...query("todos"), limit: "ten" } },
      { ...goodQuery(), query: { ...query("todos"), collection: "../x" } },
      `{"__proto__":{"polluted":true},"appId":"${APP}","query":${JSON.stringify(query("todos"))},"cursor":null}`,
      JSON.stringify(goodQuery()).replace(
        '"where":[]',
        '"where":[{"field":"title","op":"equals","operand":{"__proto__":{"polluted":true}}}]',
      ),
    ];
    for (const body of bodies) {
      const answer = await post(server.url, "/v1/query", body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body, JSON.stringify(body)).toEqual({
        error: expect.objectContaining({
          code: expect.stringMatching(/^(PROTOCOL|VALIDATION)$/),
          message: expect.any(String),
        }),
      });
    }
    expect((await post(server.url, "/v1/query", goodQuery())).status).toBe(200);
    await expectUnharmed();
  });

  it("refuses a query selecting a field with false, whether as a fields object or in select", async () => {
    const asFields = await post(server.url, "/v1/query", {
      ...goodQuery(),
      query: { ...query("todos"), fields: { title: false } },
    });
    expect(asFields.status).toBe(400);
    expect(asFields.body).toEqual({
      error: expect.objectContaining({
        code: "PROTOCOL",
        message: expect.stringMatching(/query.*unknown key "fields"/),
      }),
    });
    const inSelect = await post(server.url, "/v1/query", {
      ...goodQuery(),
      query: { ...query("todos"), select: ["id", false] },
    });
    expect(inSelect.status).toBe(400);
    expect(inSelect.body).toEqual({
      error: expect.objectContaining({ code: "PROTOCOL", message: expect.stringContaining("query.select[1]") }),
    });
    await expectUnharmed();
  });

  it("refuses malformed /v1/push bodies and stores nothing of them", async () => {
    const bodies: unknown[] = [
      "",
      "{",
      "[]",
      { ...goodPush(), clientId: undefined },
      { ...goodPush(), clientId: "../x" },
      { ...goodPush(), batchId: 5 },
      { ...goodPush(), appId: "../x" },
      { ...goodPush(), extra: true },
      { ...goodPush(), triples: "x" },
      { ...goodPush(), triples: [triple({ hlc: "nope" })] },
      { ...goodPush(), triples: [triple({ field: "$deleted", value: "yes" })] },
      JSON.stringify(goodPush()).replace('"value":"x"', '"value":{"a":{"__proto__":{"polluted":true}}}'),
      JSON.stringify(goodPush()).replace('"value":"x"', '"value":{"constructor":{"prototype":{"polluted":true}}}'),
    ];
    for (const body of bodies) {
      const answer = await post(server.url, "/v1/push", body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code, JSON.stringify(body)).toMatch(/^(PROTOCOL|VALIDATION)$/);
    }
    const future = await post(server.url, "/v1/push", {
      ...goodPush(),
      batchId: "http-future",
      triples: [triple({ id: "http-doc" }), triple({ hlc: futureHlc(3_600_000) })],
    });
    expect(future).toEqual({
      status: 409,
      body: {
        error: expect.objectContaining({
          code: "CLOCK_DRIFT",
          details: expect.objectContaining({ batchId: "http-future" }),
        }),
      },
    });
    await expectUnharmed();
  });
});

describe("a configured frame limit", () => {
  it("refuses frames over it, closes on far larger ones, and limits HTTP bodies", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "trellis-limit-"));
    const limited = await createServer({ port: 0, dataDir, maxFrameBytes: 1024, maxBodyBytes: 4096, log: () => {} });
    try {
      const socket = await connect(limited.url, "limited");
      const small = [triple({ value: "s".repeat(600) })];
      socket.sendRaw(push(small, "small"));
      await socket.next("ack");
      socket.sendRaw(push([triple({ value: "m".repeat(1500) })]));
      expect(await socket.next("error")).toMatchObject({ code: "PROTOCOL", details: { maxBytes: 1024 } });
      await socket.sync();
      socket.sendRaw(push([triple({ value: "l".repeat(5000) })]));
      expect((await socket.closed).code).toBe(1009);

      const body = await post(limited.url, "/v1/push", {
        appId: "limited",
        clientId: "c",
        batchId: "b",
        triples: [triple({ value: "h".repeat(5000) })],
      });
      expect(body).toEqual({
        status: 413,
        body: {
          error: expect.objectContaining({
            code: "PROTOCOL",
            message: expect.stringMatching(/larger than 4096 bytes/),
          }),
        },
      });
      expect(sortedTriples(await storedTriples(limited.url, "limited"))).toEqual(sortedTriples(small));
    } finally {
      await closeAllSockets(watcher);
      await limited.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
