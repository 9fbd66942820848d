import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer as createTcpServer, type Server } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Triple } from "@trellis/core";
import { removeDataDir, startServerProcess, tempDataDir } from "@trellis/server/testing";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  closeAllSockets,
  connect,
  documentTriples,
  query,
  sortedTriples,
  storedTriples,
  writer,
} from "./testing/raw-socket.js";

/** The built CLI, as `trellis-server` runs it. */
const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

interface Cli {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the URL once the server says it listens (rejects if it exits first). */
  readonly listening: Promise<string>;
  /** Resolves once the process has exited and everything it printed has been read. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];

/** Environment variables the CLI reads as settings: a test sets those it means, never inherits them. */
const SETTINGS = [
  "PORT",
  "HOST",
  "TRELLIS_DATA",
  "TRELLIS_LOG_LEVEL",
  "TRELLIS_LOG_FORMAT",
  "TRELLIS_JWT_SECRET",
  "TRELLIS_ADMIN_SECRET",
];

function cli(args: readonly string[], settings: Readonly<Record<string, string>> = {}): Cli {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !SETTINGS.includes(name)));
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...env, ...settings },
  });
  children.push(child);
  let output = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  const listening = new Promise<string>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = /listening on (http:\/\/\S+:\d+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    void exited.then(({ code, signal }) =>
      reject(new Error(`trellis-server exited (${signal ?? code}) before listening:\n${output}`)),
    );
  });
  listening.catch(() => {});
  return { child, output: () => output, listening, exited };
}

function dataDir(): string {
  const dir = tempDataDir();
  dirs.push(dir);
  return dir;
}

/** A TCP server holding a port of 127.0.0.1. */
async function holdPort(): Promise<Server> {
  const tcp = createTcpServer();
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  return tcp;
}

function release(tcp: Server): Promise<unknown> {
  return new Promise((resolve) => tcp.close(resolve));
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build @trellis/server first.`);
});

afterEach(async () => {
  await closeAllSockets();
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
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
    expect(await socket.next("error")).toMatchObject({
      code: "VALIDATION",
      details: { messagesPerSecond: 1, burst: 2 },
    });
    const bad = cli(["--port", "0", "--data", dataDir(), "--room-rate", "0"]);
    expect((await bad.exited).code).toBe(1);
    expect(bad.output()).toContain("--room-rate must be a positive whole number");
  });

  it("takes limits with --limit and browser origins with --allow-origin, and exits 1 on bad ones", async () => {
    const run = cli([
      "--port",
      "0",
      "--data",
      dataDir(),
      "--limit",
      "subscriptionsPerConnection=1",
      "--allow-origin",
      "https://app.example.com",
    ]);
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
    const taken = await holdPort();
    try {
      const port = (taken.address() as AddressInfo).port;
      const run = cli(["--port", String(port), "--data", dataDir()]);
      expect((await run.exited).code).toBe(1);
      expect(run.output()).toContain(`trellis-server: Port ${port} on 127.0.0.1 is already in use`);
    } finally {
      await release(taken);
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

  it("prints its package's version for --version and -v, and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    for (const flag of ["--version", "-v"]) {
      const run = cli([flag]);
      expect(await run.exited).toEqual({ code: 0, signal: null });
      expect(run.output()).toBe(`${version}\n`);
    }
  });

  it("takes the port, interface and data folder from PORT, HOST and TRELLIS_DATA when their flags are absent", async () => {
    const held = await holdPort();
    const port = (held.address() as AddressInfo).port;
    await release(held);
    const dir = dataDir();
    const run = cli([], { PORT: String(port), HOST: "localhost", TRELLIS_DATA: dir });
    const url = await run.listening;
    expect(url).toBe(`http://localhost:${port}`);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(readdirSync(dir)).toContain("trellis.apps.sqlite");
  });

  it("prefers --port, --host and --data to PORT, HOST and TRELLIS_DATA", async () => {
    const file = join(dataDir(), "a-file");
    writeFileSync(file, "not a folder");
    const dir = dataDir();
    const run = cli(["--port", "0", "--host", "127.0.0.1", "--data", dir], {
      PORT: "http",
      HOST: "nope.invalid",
      TRELLIS_DATA: join(file, "data"),
    });
    const url = await run.listening;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(readdirSync(dir)).toContain("trellis.apps.sqlite");
  });

  it("exits 1 naming the flag or environment variable whose value is wrong", async () => {
    const cases: Array<[readonly string[], Record<string, string>, string]> = [
      [[], { PORT: "http" }, 'trellis-server: PORT must be a whole number from 0 to 65535, got "http".'],
      [[], { PORT: "" }, 'PORT must be a whole number from 0 to 65535, got "".'],
      [["--port", "65536"], {}, '--port must be a whole number from 0 to 65535, got "65536".'],
      [["--port", "0"], { HOST: "" }, "HOST must name an interface"],
      [["--port", "0"], { TRELLIS_DATA: "" }, "TRELLIS_DATA must name a folder"],
      [["--port", "0", "--data", ""], {}, "--data must name a folder"],
      [
        ["--port", "0"],
        { TRELLIS_LOG_LEVEL: "loud" },
        'TRELLIS_LOG_LEVEL must be one of debug, info, warn, error; got "loud".',
      ],
      [
        ["--port", "0", "--log-level", "trace"],
        {},
        '--log-level must be one of debug, info, warn, error; got "trace".',
      ],
      [["--port", "0", "--log-format", "xml"], {}, '--log-format must be one of json, pretty; got "xml".'],
    ];
    for (const [args, settings, message] of cases) {
      const bad = cli(args, settings);
      const label = `${args.join(" ")} ${JSON.stringify(settings)}`;
      expect((await bad.exited).code, label).toBe(1);
      expect(bad.output(), label).toContain(message);
    }
  });

  it("logs only warnings and errors with --log-level warn, and each request with debug; the flag wins over TRELLIS_LOG_LEVEL", async () => {
    const quiet = cli(["--port", "0", "--data", dataDir(), "--log-level", "warn"], { TRELLIS_LOG_LEVEL: "debug" });
    await quiet.listening;
    quiet.child.kill("SIGTERM");
    expect(await quiet.exited).toEqual({ code: 0, signal: null });
    expect(quiet.output()).toContain("DEVELOPMENT MODE");
    expect(quiet.output()).not.toContain("Received SIGTERM");
    expect(quiet.output()).not.toContain("Trellis sync server stopped");

    const verbose = cli(["--port", "0", "--data", dataDir()], { TRELLIS_LOG_LEVEL: "debug" });
    const url = await verbose.listening;
    await fetch(`${url}/health`);
    const request = await vi.waitFor(() => {
      const line = verbose
        .output()
        .split("\n")
        .find((candidate) => candidate.includes('"msg":"HTTP request"'));
      if (line === undefined) throw new Error("no request logged yet");
      return JSON.parse(line) as unknown;
    });
    expect(request).toMatchObject({ level: "debug", method: "GET", path: "/health", status: 200 });
  });

  it("writes JSON lines with --log-format json and text with --log-format pretty (or TRELLIS_LOG_FORMAT)", async () => {
    const json = cli(["--port", "0", "--data", dataDir(), "--log-format", "json"], { TRELLIS_LOG_FORMAT: "pretty" });
    await json.listening;
    json.child.kill("SIGTERM");
    await json.exited;
    const warning = json
      .output()
      .split("\n")
      .find((line) => line.includes("DEVELOPMENT MODE"))!;
    expect(warning).toMatch(
      /^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"warn","msg":"DEVELOPMENT MODE: [^"]+"\}$/,
    );
    expect(json.output()).toMatch(
      /^\{"time":"[^"]+","level":"info","msg":"Trellis sync server stopped","url":"http:\/\/127\.0\.0\.1:\d+"\}$/m,
    );

    const pretty = cli(["--port", "0", "--data", dataDir()], { TRELLIS_LOG_FORMAT: "pretty" });
    await pretty.listening;
    pretty.child.kill("SIGTERM");
    await pretty.exited;
    expect(pretty.output()).toMatch(/^\d\d:\d\d:\d\d warn {2}DEVELOPMENT MODE: /m);
    expect(pretty.output()).toMatch(
      /^\d\d:\d\d:\d\d info {2}Trellis sync server stopped {2}url=http:\/\/127\.0\.0\.1:\d+$/m,
    );
    expect(pretty.output()).not.toContain('"level"');
  });

  it("says it is listening once, as a plain line, whatever the log format and level", async () => {
    for (const args of [[], ["--log-format", "pretty", "--log-level", "debug"]]) {
      const run = cli(["--port", "0", "--data", dataDir(), ...args]);
      const url = await run.listening;
      run.child.kill("SIGTERM");
      await run.exited;
      expect(run.output().match(/listening/gi), args.join(" ")).toEqual(["listening"]);
      expect(run.output().split("\n")).toContain(`Trellis sync server listening on ${url}`);
    }
  });
});
