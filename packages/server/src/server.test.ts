import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect as connectTcp } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AppDatabase } from "./app-database.js";
import { AppHub } from "./app-hub.js";
import type { Log } from "./log.js";
import { createServer, type ServerOptions, type TrellisServer } from "./server.js";
import {
  closeAllSockets,
  connect,
  documentTriples,
  openSocket,
  post,
  sortedTriples,
  storedTriples,
  writer,
} from "./testing/raw-socket.js";

const dirs: string[] = [];
const servers: TrellisServer[] = [];
const quiet: Log = () => {};

async function start(options: Partial<ServerOptions> = {}): Promise<TrellisServer & { dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), "trellis-server-"));
  dirs.push(dataDir);
  const server = await createServer({ port: 0, dataDir, log: quiet, ...options });
  servers.push(server);
  return Object.assign(server, { dataDir });
}

afterEach(async () => {
  vi.restoreAllMocks();
  await closeAllSockets();
  await Promise.all(servers.splice(0).map((server) => server.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Sends raw bytes over TCP and answers everything the server wrote until it closed. */
function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, "127.0.0.1", () => socket.end(request));
    let reply = "";
    socket.on("data", (chunk) => (reply += chunk.toString("utf8")));
    socket.on("close", () => resolve(reply));
    socket.on("error", reject);
  });
}

describe("createServer", () => {
  it("acknowledges a push queued when close() starts before it closes the socket", async () => {
    const server = await start();
    const socket = await connect(server.url, "drain");
    const push = AppHub.prototype.push;
    let closing: Promise<void> | undefined;
    // Close the server the moment the push is queued, before any commit could run.
    vi.spyOn(AppHub.prototype, "push").mockImplementation(function (this: AppHub, ...args) {
      const pending = push.apply(this, args);
      closing ??= server.close();
      return pending;
    });
    const triples = documentTriples("todos", "t1", { title: "milk" }, writer("drain"));
    socket.send({ type: "push", batchId: "last", triples });

    const closed = await socket.closed;
    expect(closed.code).toBe(1001);
    expect(socket.pending()).toEqual([{ type: "ack", batchId: "last", cursor: "2" }]);
    await closing;
    const db = AppDatabase.open(server.dataDir, "drain").data!;
    expect(sortedTriples(db.changesSince(null).data!.triples)).toEqual(sortedTriples(triples));
    db.close();
  });

  it("reports apps, connections, requests and CPU time at GET /v1/metrics", async () => {
    const server = await start();
    await connect(server.url, "one");
    await connect(server.url, "one");
    await connect(server.url, "two");
    const response = await fetch(`${server.url}/v1/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await response.json()) as Record<string, number>;
    expect(body).toEqual({
      apps: 2,
      connections: 3,
      httpRequests: 1,
      throttled: 0,
      cpuUserMs: expect.any(Number),
      cpuSystemMs: expect.any(Number),
    });
    expect(body.cpuUserMs).toBeGreaterThan(0);
    expect(body.cpuSystemMs).toBeGreaterThanOrEqual(0);
  });

  it("logs each request and connection at debug, only to a log that asks for debug", async () => {
    const entries = (level: Log["level"]) => {
      const logged: string[] = [];
      const log: Log = Object.assign(
        (at: string, message: string, fields?: Readonly<Record<string, unknown>>) =>
          logged.push(`${at} ${message} ${JSON.stringify(fields)}`),
        { level },
      );
      return { log, logged };
    };
    for (const level of ["debug", undefined] as const) {
      const { log, logged } = entries(level);
      const server = await start({ log });
      const socket = await connect(server.url, "logged");
      await fetch(`${server.url}/health?probe=1`);
      await socket.close();
      const expected = [
        expect.stringMatching(/^debug WebSocket connected \{"address":"[^"]+","connections":1\}$/),
        expect.stringMatching(/^debug HTTP request \{"method":"GET","path":"\/health","status":200,"ms":\d+\}$/),
        expect.stringMatching(/^debug WebSocket closed \{"address":"[^"]+","code":1005,"connections":0\}$/),
      ];
      await vi.waitFor(() =>
        expect(logged.filter((line) => line.startsWith("debug"))).toEqual(level === "debug" ? expected : []),
      );
    }
  });

  it("checkpoints each database written in the last second in a worker thread, not as it commits", async () => {
    const server = await start();
    const socket = await connect(server.url, "checkpointed");
    const hlc = writer("checkpoints");
    // A few pages of log: far below SQLite's own automatic checkpoint (1,000 pages), which is off.
    for (let i = 0; i < 5; i++) {
      socket.send({
        type: "push",
        batchId: `b${i}`,
        triples: documentTriples("todos", `d${i}`, { title: "x".repeat(2_000) }, hlc),
      });
      await socket.next("ack");
    }
    // Until a checkpoint, the writes are only in the log; then they are in the database file. (The
    // file is read from outside: a connection of the test's own would checkpoint it.)
    const file = join(server.dataDir, "checkpointed.sqlite");
    const before = statSync(file).size;
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && statSync(file).size < before + 10_000)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(statSync(file).size).toBeGreaterThanOrEqual(before + 10_000);
  });

  it("closes an app nobody uses for appIdleMs and opens it again, data intact, on the next request", async () => {
    const server = await start({ appIdleMs: 40 });
    const apps = async () => ((await (await fetch(`${server.url}/v1/metrics`)).json()) as { apps: number }).apps;
    const triples = documentTriples("todos", "t1", { title: "milk" }, writer("idle"));
    const pushed = await post(server.url, "/v1/push", { appId: "idle", clientId: "c", batchId: "b", triples });
    expect(pushed.status).toBe(200);
    const socket = await connect(server.url, "connected");
    await new Promise((resolve) => setTimeout(resolve, 150));
    // The app with a connection stays open; the one only used over HTTP was closed.
    expect(await apps()).toBe(1);
    expect(sortedTriples(await storedTriples(server.url, "idle"))).toEqual(sortedTriples(triples));
    await socket.close();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await apps()).toBe(0);
  });

  it("answers a CORS preflight, and CORS headers on every answer, for the origins it allows", async () => {
    const server = await start({ allowOrigins: ["*"] });
    const preflight = await fetch(`${server.url}/v1/query`, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("authorization");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("content-type");
    const health = await fetch(`${server.url}/health`, { headers: { origin: "https://app.example" } });
    expect(health.headers.get("access-control-allow-origin")).toBe("*");
    expect(await health.json()).toEqual({ status: "ok" });
  });

  it("in development mode, answers browser pages on loopback only, WebSocket upgrades included", async () => {
    const server = await start();
    for (const origin of [
      "http://localhost:5173",
      "http://127.0.0.1:3000",
      "http://[::1]:8080",
      "http://app.localhost",
    ]) {
      const answer = await fetch(`${server.url}/v1/query`, { method: "OPTIONS", headers: { origin } });
      expect(answer.status, origin).toBe(204);
      expect(answer.headers.get("access-control-allow-origin"), origin).toBe(origin);
      const socket = await openSocket(server.url, "/v1/sync", { origin });
      await socket.close();
    }
    for (const origin of [
      "https://evil.example",
      "null",
      "http://127.0.0.1.evil.example",
      "http://localhost.evil.example",
    ]) {
      const preflight = await fetch(`${server.url}/v1/query`, { method: "OPTIONS", headers: { origin } });
      expect(preflight.status, origin).toBe(403);
      expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
      // A simple request (no preflight) is refused before it does anything.
      const push = await fetch(`${server.url}/v1/push`, {
        method: "POST",
        headers: { origin, "content-type": "text/plain" },
        body: "{}",
      });
      expect(push.status, origin).toBe(403);
      expect((await push.json()).error.message).toContain("--allow-origin");
      await expect(openSocket(server.url, "/v1/sync", { origin })).rejects.toThrow(/HTTP 403/);
    }
    // Without an Origin (not a browser: Node clients, curl), everything is allowed.
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    await (await openSocket(server.url)).close();

    const widened = await start({ allowOrigins: ["loopback", "https://app.example.com"] });
    expect(
      (await fetch(`${widened.url}/health`, { headers: { origin: "https://app.example.com" } })).headers.get(
        "access-control-allow-origin",
      ),
    ).toBe("https://app.example.com");
    expect((await fetch(`${widened.url}/health`, { headers: { origin: "https://other.example.com" } })).status).toBe(
      403,
    );
    await expect(start({ allowOrigins: ["app.example.com"] })).rejects.toThrow(/not an origin/);
  });

  it("answers unknown routes and methods with a JSON 404", async () => {
    const server = await start();
    for (const [method, path] of [
      ["GET", "/nope"],
      ["GET", "/v1/query"],
      ["POST", "/health"],
      ["DELETE", "/v1/push"],
      ["GET", "/v1/sync"],
    ] as const) {
      const response = await fetch(`${server.url}${path}`, { method });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await response.json()).toEqual({
        error: { code: "NOT_FOUND", message: expect.stringContaining(`${method} ${path}`) },
      });
    }
  });

  it("refuses a WebSocket upgrade on any path but /v1/sync", async () => {
    const server = await start();
    for (const path of ["/", "/v1/sync/more", "/v2/sync", "/sync"]) {
      await expect(openSocket(server.url, path), path).rejects.toThrow("HTTP 404");
    }
    await connect(server.url, "still-serving");
  });

  it("answers a malformed request target without failing", async () => {
    const server = await start();
    const reply = await rawHttp(server.port, "GET // HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect(reply).toContain('"code":"PROTOCOL"');
    const upgrade = await rawHttp(
      server.port,
      "GET // HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
    );
    expect(upgrade).toMatch(/^HTTP\/1\.1 404/);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    await connect(server.url, "still-serving");
  });

  it("rejects when the port is taken or the data folder cannot be written", async () => {
    const server = await start();
    await expect(createServer({ port: server.port, dataDir: server.dataDir, log: quiet })).rejects.toThrow(
      /already in use/,
    );
    const file = join(server.dataDir, "a-file");
    writeFileSync(file, "");
    await expect(createServer({ port: 0, dataDir: join(file, "data"), log: quiet })).rejects.toThrow(/not writable/);
  });

  it("refuses options that are not positive whole numbers", async () => {
    await expect(start({ maxFrameBytes: 0 })).rejects.toThrow(/maxFrameBytes/);
    await expect(start({ heartbeatMs: 1.5 })).rejects.toThrow(/heartbeatMs/);
  });

  it("stops accepting connections once closed", async () => {
    const server = await start();
    await server.close();
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
    await server.close();
  });
});
