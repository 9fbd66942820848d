import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createSchema, t } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess, tempDataDir } from "@trellis/server/testing";
import { WebSocketServer } from "ws";
import { afterEach, expect, it, vi } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { FAST_RECONNECT, waitFor } from "../testing/live-server.js";

// A client that cannot sync says why, in `connection.lastError` and one console warning per
// cause: nothing listening, an HTTP server that does not upgrade, something else speaking
// WebSocket, a server that refuses the app. Once a server answers, the error clears. With
// `debug`, each sync step is logged. Real sockets on 127.0.0.1 throughout.

const schema = createSchema({ entities: { todos: { text: t.string({ fallback: "" }) } } });
const clients: TrellisClient<typeof schema>[] = [];
const closers: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const close of closers.splice(0)) await close();
  vi.restoreAllMocks();
});

function connect(serverUrl: string, options: { debug?: boolean; appId?: string } = {}): TrellisClient<typeof schema> {
  const client = createClient({
    schema,
    serverUrl,
    appId: options.appId ?? "errors",
    userId: "alice",
    reconnect: FAST_RECONNECT,
    ...(options.debug === undefined ? {} : { debug: options.debug }),
  });
  clients.push(client);
  return client;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port nothing listens on: one just released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const warningsAbout = (warn: ReturnType<typeof vi.spyOn>, text: string) =>
  warn.mock.calls.filter((call: unknown[]) => String(call[0]).includes(text));

it("names the URL and the reason when nothing listens, warns once for it, and clears the error once a server answers", async () => {
  const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
  const port = await closedPort();
  const client = connect(`http://127.0.0.1:${port}`);
  client.database.todos.subscribe({}, () => {});
  await waitFor(() => client.connection.lastError !== undefined, "a connection error");
  expect(client.connection.lastError).toMatchObject({
    code: "NETWORK",
    details: { url: `ws://127.0.0.1:${port}/v1/sync`, reason: expect.stringContaining("ECONNREFUSED") },
  });
  expect(client.connection.lastError!.message).toContain(`Cannot sync with ws://127.0.0.1:${port}/v1/sync`);
  // Several retries, one warning.
  const retries = vi.fn();
  const stop = client.connection.subscribe(retries);
  await waitFor(
    () => retries.mock.calls.filter(([status]) => status.state === "connecting").length >= 3,
    "three more attempts",
  );
  stop();
  expect(warningsAbout(warn, "ECONNREFUSED")).toHaveLength(1);

  // A server comes up on that port: the client connects and the error goes.
  const server: ServerProcess = await startServerProcess({ dataDir: tempDataDir(), port });
  closers.push(async () => {
    await server.stop();
    removeDataDir(server.dataDir);
  });
  await waitFor(() => client.connection.getCurrentState().state === "online", "online once the server is up");
  expect(client.connection.lastError).toBeUndefined();
});

it("says that an HTTP server without the sync endpoint answered, and what", async () => {
  vi.spyOn(console, "warn").mockImplementation(() => {});
  const url = await listen(
    createServer((_request, response) => response.writeHead(404, { "content-type": "text/plain" }).end("Not here")),
  );
  const client = connect(url);
  await waitFor(() => client.connection.lastError !== undefined, "a connection error");
  expect(client.connection.lastError).toMatchObject({
    code: "NETWORK",
    details: { reason: "Unexpected server response: 404" },
  });
  expect(client.connection.getCurrentState().state).not.toBe("online");
});

it("says that something else speaks WebSocket at the URL", async () => {
  vi.spyOn(console, "warn").mockImplementation(() => {});
  const http = createServer();
  const sockets = new WebSocketServer({ server: http });
  sockets.on("connection", (socket) => socket.send("welcome to the chat!"));
  closers.push(() => new Promise<void>((resolve) => sockets.close(() => resolve())));
  const url = await listen(http);
  const client = connect(url);
  await waitFor(() => client.connection.lastError !== undefined, "a connection error");
  expect(client.connection.lastError).toMatchObject({ code: "NETWORK" });
  expect(client.connection.lastError!.message).toContain("does not speak the Trellis sync protocol");
});

it("keeps a server's own refusal as it is, not as a network error", async () => {
  vi.spyOn(console, "warn").mockImplementation(() => {});
  const server = await startServerProcess({
    dataDir: tempDataDir(),
    args: ["--admin-secret", "an-admin-secret-for-connection-errors"],
  });
  closers.push(async () => {
    await server.stop();
    removeDataDir(server.dataDir);
  });
  const client = connect(server.url, { appId: "never-created" });
  await waitFor(() => client.connection.lastError !== undefined, "the refusal");
  await new Promise((resolve) => setTimeout(resolve, 200)); // a few more attempts
  expect(client.connection.lastError).toMatchObject({
    code: "UNAUTHORIZED",
    message: expect.stringContaining('No app "never-created"'),
  });
});

it("logs connection steps, pushes, acks and query syncs with debug, and nothing without it", async () => {
  const debug = vi.spyOn(console, "debug").mockImplementation(() => {});
  const server = await startServerProcess({ dataDir: tempDataDir() });
  closers.push(async () => {
    await server.stop();
    removeDataDir(server.dataDir);
  });
  const quiet = connect(server.url);
  await quiet.database.todos.create({ text: "quiet" });
  await waitFor(
    () => quiet.connection.getCurrentState().state === "online" && quiet.connection.getCurrentState().pending === 0,
    "the quiet client synced",
  );
  expect(debug).not.toHaveBeenCalled();

  const client = connect(server.url, { debug: true });
  client.database.todos.subscribe({}, () => {});
  await client.database.todos.create({ text: "loud" });
  await waitFor(
    () => client.connection.getCurrentState().state === "online" && client.connection.getCurrentState().pending === 0,
    "synced",
  );
  const lines = debug.mock.calls.map((call) => String(call[0]));
  for (const step of [
    "connecting",
    "socket open, sending hello",
    "welcome",
    "send subscribe",
    "receive snapshot",
    "send push",
    "receive ack",
  ]) {
    expect(lines, step).toContain(`[trellis errors] ${step}`);
  }
  const push = debug.mock.calls.find((call) => call[0] === "[trellis errors] send push")!;
  expect(push[1]).toMatchObject({ batchId: expect.any(String), triples: expect.any(Number) });

  // Without the option, localStorage.trellisDebug turns it on (browsers; Node has no localStorage).
  debug.mockClear();
  vi.stubGlobal("localStorage", { getItem: (key: string) => (key === "trellisDebug" ? "1" : null) });
  const fromStorage = connect(server.url);
  await waitFor(() => fromStorage.connection.getCurrentState().state === "online", "online");
  vi.unstubAllGlobals();
  expect(debug.mock.calls.map((call) => String(call[0]))).toContain("[trellis errors] welcome");
});

it("tells a subscription's local-only data from the server's answer (hasSynced)", async () => {
  vi.spyOn(console, "warn").mockImplementation(() => {});
  const port = await closedPort();
  const offline = connect(`http://127.0.0.1:${port}`, { appId: "synced-flag" });
  await offline.database.todos.create({ text: "mine" });
  const calls: Array<{ count: number | undefined; loading: boolean; hasSynced: boolean }> = [];
  const subscription = offline.database.todos.subscribe({}, (todos, _error, loading, hasSynced) =>
    calls.push({ count: todos?.length, loading, hasSynced }),
  );
  await waitFor(() => calls.some((call) => !call.loading), "local data once the client is offline");
  expect(calls.at(-1)).toEqual({ count: 1, loading: false, hasSynced: false });
  expect(subscription.getCurrentState().hasSynced).toBe(false);

  // The server comes up there: the same subscription hears that it has synced, with the server's data.
  const server = await startServerProcess({ dataDir: tempDataDir(), port });
  closers.push(async () => {
    await server.stop();
    removeDataDir(server.dataDir);
  });
  await waitFor(() => subscription.getCurrentState().hasSynced, "the server's answer");
  expect(calls.at(-1)).toEqual({ count: 1, loading: false, hasSynced: true });
  // A client that followed the query before resumes from its cursor: synced from the first call.
  const again = offline.database.todos.subscribe({}, () => {});
  expect(again.getCurrentState()).toMatchObject({ loading: false, hasSynced: true });
});

it("tells a page shown from local data from the server's answer (paginated hasSynced)", async () => {
  vi.spyOn(console, "warn").mockImplementation(() => {});
  const port = await closedPort();
  const offline = connect(`http://127.0.0.1:${port}`, { appId: "synced-pages" });
  await offline.database.todos.create({ text: "mine" });
  const pages = offline.database.todos.paginated({ orderBy: ["text", "asc"], pageSize: 10 });
  const states: Array<{ count: number | undefined; loading: boolean; hasSynced: boolean }> = [];
  const stop = pages.subscribe((state) =>
    states.push({ count: state.data?.length, loading: state.loading, hasSynced: state.hasSynced }),
  );
  closers.push(stop);
  expect(states[0]).toEqual({ count: undefined, loading: true, hasSynced: false });
  await waitFor(() => !pages.getCurrentState().loading, "the local page once the client is offline");
  expect(states.at(-1)).toEqual({ count: 1, loading: false, hasSynced: false });

  // The server comes up there: the page on show hears that it has synced.
  const server = await startServerProcess({ dataDir: tempDataDir(), port });
  closers.push(async () => {
    await server.stop();
    removeDataDir(server.dataDir);
  });
  await waitFor(() => pages.getCurrentState().hasSynced, "the server's answer to the page");
  expect(states.at(-1)).toEqual({ count: 1, loading: false, hasSynced: true });
});
