import { removeDataDir, type ServerProcess, startServerProcess, tempDataDir } from "@trellis/server/testing";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCall, closeAllSockets, connect, documentTriples, nextId, post, writer } from "../testing/raw-socket.js";
import { MetricsHistory } from "./metrics-history.js";

// What the dashboard reads through the admin API, against a real server process in production
// mode: an app's collections, pages of its documents under a filter, a document's cells with who
// wrote them, its connections and rooms, and the dashboard's own page.

const SECRET = "an-admin-secret-for-the-data-browser";
const JWT_SECRET = "a-jwt-secret-for-the-data-browser-tests";
let server: ServerProcess;

beforeAll(async () => {
  server = await startServerProcess({
    dataDir: tempDataDir(),
    args: ["--admin-secret", SECRET, "--jwt-secret", JWT_SECRET, "--allow-origin", "https://app.example.com"],
  });
});

afterAll(async () => {
  await closeAllSockets();
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

/** An app with five todos and a tag written by alice's client "alice-laptop", one todo deleted. */
async function appWithData(): Promise<{ appId: string; socket: Awaited<ReturnType<typeof connect>> }> {
  const appId = (await admin("POST", "", { name: "Browsed" })).body.id as string;
  const socket = await connect(server.url, appId, { clientId: "alice-laptop", token: await token("alice") });
  const hlc = writer("alice-laptop");
  const triples = [
    ...["t1", "t2", "t3", "t4", "t5"].flatMap((id, index) =>
      documentTriples("todos", id, { title: `Todo ${index + 1}`, done: index % 2 === 0, createdBy: "alice" }, hlc),
    ),
    ...documentTriples("tags", "g1", { label: "home" }, hlc),
    { collection: "todos", id: "t1", field: "tags", element: "g1", value: true, hlc: hlc() },
  ];
  const batchId = nextId("batch");
  socket.send({ type: "push", batchId, triples });
  await socket.next("ack");
  const deleteId = nextId("batch");
  socket.send({
    type: "push",
    batchId: deleteId,
    triples: [{ collection: "todos", id: "t5", field: "$deleted", value: true, hlc: hlc() }],
  });
  await socket.next("ack");
  return { appId, socket };
}

describe("the admin API's data browser", () => {
  it("lists collections, pages documents in id order under a filter, and shows a document's cells with who wrote them", async () => {
    const { appId } = await appWithData();
    expect((await admin("GET", `/${appId}/collections`)).body).toEqual({
      appId,
      collections: [
        { name: "tags", documents: 1 },
        { name: "todos", documents: 4 },
      ],
    });

    const first = await admin("GET", `/${appId}/documents?collection=todos&limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.documents.map((doc: { id: string }) => doc.id)).toEqual(["t1", "t2"]);
    expect(first.body.documents[0].fields).toMatchObject({
      title: "Todo 1",
      done: true,
      tags: ["g1"],
      createdBy: "alice",
    });
    expect(first.body.next).toBe("t2");
    const second = await admin("GET", `/${appId}/documents?collection=todos&limit=2&after=t2`);
    expect(second.body.documents.map((doc: { id: string }) => doc.id)).toEqual(["t3", "t4"]);
    expect(second.body.next).toBeNull();

    const where = encodeURIComponent(JSON.stringify({ done: true }));
    const open = await admin("GET", `/${appId}/documents?collection=todos&where=${where}`);
    expect(open.body.documents.map((doc: { id: string }) => doc.id)).toEqual(["t1", "t3"]);
    const related = encodeURIComponent(JSON.stringify({ tags: { collection: "tags", where: { label: "home" } } }));
    expect(
      (await admin("GET", `/${appId}/documents?collection=todos&where=${related}`)).body.documents.map(
        (doc: { id: string }) => doc.id,
      ),
    ).toEqual(["t1"]);

    const detail = await admin("GET", `/${appId}/document?collection=todos&id=t1`);
    expect(detail.status).toBe(200);
    expect(detail.body.isDeleted).toBe(false);
    expect(detail.body.cells).toContainEqual({
      field: "title",
      value: "Todo 1",
      hlc: expect.stringMatching(/-alice-laptop$/),
      writtenAt: expect.any(Number),
      client: "alice-laptop",
      userId: "alice",
    });
    expect(detail.body.cells).toContainEqual(expect.objectContaining({ field: "tags", element: "g1", value: true }));
    expect(Math.abs(detail.body.cells[0].writtenAt - Date.now())).toBeLessThan(60_000);
    const deleted = await admin("GET", `/${appId}/document?collection=todos&id=t5`);
    expect(deleted.body).toMatchObject({ isDeleted: true, cells: [{ field: "$deleted", value: true }] });
  });

  it("refuses bad requests with the field or the filter's path, and reads nothing without the secret", async () => {
    const { appId } = await appWithData();
    const bad = async (query: string) => (await admin("GET", `/${appId}/${query}`)).body.error;
    expect(await bad("documents?collection=todos&limit=0")).toMatchObject({
      code: "VALIDATION",
      details: { field: "limit" },
    });
    expect(await bad("documents?collection=todos&limit=201")).toMatchObject({
      code: "VALIDATION",
      details: { field: "limit" },
    });
    expect(await bad("documents?limit=5")).toMatchObject({ code: "VALIDATION", details: { field: "collection" } });
    expect(await bad(`documents?collection=todos&where=${encodeURIComponent("{ done: true")}`)).toMatchObject({
      code: "VALIDATION",
      message: expect.stringContaining("not JSON"),
    });
    expect(
      await bad(`documents?collection=todos&where=${encodeURIComponent('{ "done": { "like": true } }')}`),
    ).toMatchObject({ code: "VALIDATION", details: { path: "where.done.like" } });
    expect(await bad("document?collection=todos&id=nope")).toMatchObject({ code: "NOT_FOUND" });
    expect(await bad("document?collection=todos")).toMatchObject({ code: "VALIDATION", details: { field: "id" } });
    expect((await admin("GET", `/${appId}/documents?collection=nothing`)).body).toEqual({ documents: [], next: null });
    expect((await admin("GET", "/made-up/collections")).status).toBe(404);
    for (const path of [
      "collections",
      "documents?collection=todos",
      "document?collection=todos&id=t1",
      "connections",
    ]) {
      expect((await adminCall(server.url, "wrong-secret-of-enough-length", "GET", `/${appId}/${path}`)).status).toBe(
        401,
      );
    }
  });

  it("lists an app's connections with their users, clients, live queries and rooms", async () => {
    const { appId, socket } = await appWithData();
    const bob = await connect(server.url, appId, { clientId: "bob-phone", token: await token("bob") });
    bob.send({ type: "join", roomType: "board", roomId: "b1", userStatus: { cursor: { x: 1, y: 2 } } });
    await bob.next("roomState");
    const answer = await admin("GET", `/${appId}/connections`);
    expect(answer.body.connections).toEqual(
      expect.arrayContaining([
        { userId: "alice", clientId: "alice-laptop", since: expect.any(Number), liveQueries: 0, rooms: [] },
        {
          userId: "bob",
          clientId: "bob-phone",
          since: expect.any(Number),
          liveQueries: 0,
          rooms: [{ roomType: "board", roomId: "b1" }],
        },
      ]),
    );
    expect(answer.body.rooms).toEqual([
      {
        roomType: "board",
        roomId: "b1",
        connections: 1,
        users: [{ userId: "bob", statusKeys: ["cursor"] }],
        statusKeys: [],
      },
    ]);
    await bob.close();
    await socket.close();
    await expect.poll(async () => (await admin("GET", `/${appId}/connections`)).body.connections).toEqual([]);
  });
});

describe("the dashboard's page", () => {
  it("is served at /dashboard with its files, a strict content security policy and no secret", async () => {
    const page = await fetch(`${server.url}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    const html = await page.text();
    expect(html).not.toContain(SECRET);
    expect(html).not.toMatch(/<script>/);
    const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${server.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect((await fetch(`${server.url}/dashboard/assets/../../package.json`)).status).toBe(404);
    expect((await fetch(`${server.url}/dashboard/%2e%2e/index.html`)).status).toBe(404);
    expect((await fetch(`${server.url}/dashboard`, { method: "POST", body: "x" })).status).toBe(405);
  });

  it("may call the admin API from the server's own origin, and nothing else from there", async () => {
    const host = new URL(server.url).host;
    const ownOrigin = {
      origin: `http://${host}`,
      authorization: `Bearer ${SECRET}`,
      "content-type": "application/json",
    };
    const created = await fetch(`${server.url}/v1/admin/apps`, {
      method: "POST",
      headers: ownOrigin,
      body: JSON.stringify({ name: "From the dashboard" }),
    });
    expect(created.status).toBe(201);
    const elsewhere = await fetch(`${server.url}/v1/admin/apps`, {
      method: "POST",
      headers: { ...ownOrigin, origin: "https://evil.example.com" },
      body: "{}",
    });
    expect(elsewhere.status).toBe(403);
    const query = await post(
      server.url,
      "/v1/query",
      { appId: (await created.json()).id, query: {}, cursor: null },
      { origin: `http://${host}` },
    );
    expect(query.status).toBe(403);
  });
});

describe("MetricsHistory", () => {
  it("keeps the last ten minutes of samples per app, zeros for a closed app, and forgets an idle one", () => {
    const history = new MetricsHistory();
    for (let at = 0; at < 130; at++) history.record("a", { at, connections: 1, writesPerSecond: at });
    expect(history.of("a")).toHaveLength(120);
    expect(history.of("a")[0]!.at).toBe(10);
    history.record("b", { at: 0, connections: 0, writesPerSecond: 0 });
    history.recordClosed(new Set(), 200);
    expect(history.of("a").at(-1)).toEqual({ at: 200, connections: 0, writesPerSecond: 0 });
    expect(history.of("b")).toEqual([]);
    history.forget("a");
    expect(history.of("a")).toEqual([]);
  });
});
