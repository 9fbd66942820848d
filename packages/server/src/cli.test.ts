import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createServer as createTcpServer, type Server } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Triple } from "@trellis/core";
import { removeDataDir, startServerProcess, tempDataDir } from "@trellis/server/testing";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeAllSockets, connect, documentTriples, query, sortedTriples, storedTriples, writer } from "./testing/raw-socket.js";

/** The built CLI, as `trellis-server` runs it. */
const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

interface Cli {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the URL once the server says it listens (rejects if it exits first). */
  readonly listening: Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];

function cli(args: readonly string[]): Cli {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const listening = new Promise<string>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    void exited.then(({ code, signal }) => reject(new Error(`trellis-server exited (${signal ?? code}) before listening:\n${output}`)));
  });
  listening.catch(() => {});
  return { child, output: () => output, listening, exited };
}

function dataDir(): string {
  const dir = tempDataDir();
  dirs.push(dir);
  return dir;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build @trellis/server first.`);
});

afterEach(async () => {
  await closeAllSockets();
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) removeDataDir(dir);
});

describe("trellis-server", () => {
  it("prints its usage for --help and exits 0", async () => {
    const run = cli(["--help"]);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.output()).toMatch(/^Usage: trellis-server/);
    for (const option of ["--port", "--host", "--data", "--jwt-secret"]) expect(run.output()).toContain(option);
  });

  it("exits 1 with the usage on an unknown option or a bad port", async () => {
    const unknown = cli(["--nope"]);
    expect((await unknown.exited).code).toBe(1);
    expect(unknown.output()).toMatch(/trellis-server: .*--nope/);
    expect(unknown.output()).toContain("Usage: trellis-server");
    const badPort = cli(["--port", "http", "--data", dataDir()]);
    expect((await badPort.exited).code).toBe(1);
    expect(badPort.output()).toContain("--port must be a whole number from 0 to 65535");
  });

  it("limits room messages per connection with --room-rate and --room-burst", async () => {
    const run = cli(["--port", "0", "--data", dataDir(), "--room-rate", "1", "--room-burst", "2"]);
    const url = await run.listening;
    const socket = await connect(url, "rate");
    const room = { roomType: "lobby", roomId: "" };
    socket.send({ type: "join", ...room, userStatus: {} });
    await socket.next("roomState");
    for (let i = 0; i < 3; i++) socket.send({ type: "emit", ...room, event: "wave", data: i });
    expect(await socket.next("error")).toMatchObject({ code: "VALIDATION", details: { messagesPerSecond: 1, burst: 2 } });
    const bad = cli(["--port", "0", "--data", dataDir(), "--room-rate", "0"]);
    expect((await bad.exited).code).toBe(1);
    expect(bad.output()).toContain("--room-rate must be a positive whole number");
  });

  it("takes limits with --limit and browser origins with --allow-origin, and exits 1 on bad ones", async () => {
    const run = cli(["--port", "0", "--data", dataDir(), "--limit", "subscriptionsPerConnection=1", "--allow-origin", "https://app.example.com"]);
    const url = await run.listening;
    const socket = await connect(url, "limited");
    socket.send({ type: "subscribe", queryId: "a", query: query("todos"), cursor: null });
    await socket.next("snapshot");
    socket.send({ type: "subscribe", queryId: "b", query: query("todos"), cursor: null });
    expect(await socket.next("error")).toMatchObject({ code: "VALIDATION", details: { limit: 1 } });
    expect((await fetch(`${url}/health`, { headers: { origin: "https://app.example.com" } })).status).toBe(200);
    expect((await fetch(`${url}/health`, { headers: { origin: "http://localhost:5173" } })).status).toBe(403);
    for (const [args, message] of [
      [["--limit", "connectionsPerIp"], "--limit takes NAME=VALUE"],
      [["--limit", "connectionsPerIp=-1"], "--limit takes NAME=VALUE"],
      [["--limit", "nope=1"], 'unknown limit "nope"'],
      [["--limit", "openApps=0"], "limits.openApps must be a positive whole number"],
      [["--allow-origin", "app.example.com"], "is not an origin"],
    ] as const) {
      const bad = cli(["--port", "0", "--data", dataDir(), ...args]);
      expect((await bad.exited).code, args.join(" ")).toBe(1);
      expect(bad.output()).toContain(message);
    }
  });

  it("exits 1 with a clear message when the port is already in use", async () => {
    const taken = await new Promise<Server>((resolve) => {
      const tcp = createTcpServer();
      tcp.listen(0, "127.0.0.1", () => resolve(tcp));
    });
    try {
      const port = (taken.address() as { port: number }).port;
      const run = cli(["--port", String(port), "--data", dataDir()]);
      expect((await run.exited).code).toBe(1);
      expect(run.output()).toContain(`trellis-server: Port ${port} on 127.0.0.1 is already in use`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it("exits 1 with a clear message when the data folder cannot be written", async () => {
    const file = join(dataDir(), "a-file");
    writeFileSync(file, "not a folder");
    const run = cli(["--port", "0", "--data", join(file, "data")]);
    expect((await run.exited).code).toBe(1);
    expect(run.output()).toContain(`trellis-server: The data folder ${join(file, "data")} is not writable`);
  });

  it("answers GET /health with 200 once listening", async () => {
    const server = await startServerProcess({ dataDir: dataDir() });
    try {
      const response = await fetch(`${server.url}/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "ok" });
      expect(server.output()).toContain(`Trellis sync server listening on ${server.url}`);
    } finally {
      await server.stop();
    }
  });

  it("acknowledges queued writes on SIGTERM, then exits 0", async () => {
    const dir = dataDir();
    const run = cli(["--port", "0", "--data", dir]);
    const url = await run.listening;
    const socket = await connect(url, "graceful");
    const hlc = writer("graceful");
    const written: Triple[] = [];
    const batchIds: string[] = [];
    for (let batch = 0; batch < 30; batch++) {
      const triples = documentTriples("todos", `d${batch}`, { title: `#${batch}` }, hlc);
      written.push(...triples);
      batchIds.push(`b${batch}`);
      socket.send({ type: "push", batchId: `b${batch}`, triples });
    }
    // The pong proves the server has read every push; some may still wait for their commit.
    socket.send({ type: "ping" });
    await socket.next("pong");
    run.child.kill("SIGTERM");

    expect((await socket.closed).code).toBe(1001);
    const acks = socket.pending().flatMap((message) => (message.type === "ack" ? [message.batchId] : []));
    expect(acks).toEqual(batchIds.filter((id) => acks.includes(id)));
    expect(new Set(acks)).toEqual(new Set(batchIds));
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.output()).toContain("Received SIGTERM");
    expect(run.output()).toContain("Trellis sync server stopped");

    const again = await startServerProcess({ dataDir: dir });
    try {
      expect(sortedTriples(await storedTriples(again.url, "graceful"))).toEqual(sortedTriples(written));
    } finally {
      await again.stop();
    }
  });

  it("exits 0 on SIGINT", async () => {
    const run = cli(["--port", "0", "--data", dataDir()]);
    await run.listening;
    run.child.kill("SIGINT");
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.output()).toContain("Received SIGINT");
  });
});
