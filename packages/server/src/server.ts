import { accessSync, constants, mkdirSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { DEFAULT_MAX_FRAME_BYTES } from "@trellis/core";
import { type WebSocket, WebSocketServer } from "ws";
import { AppHubs } from "./app-hubs.js";
import { type AuthOptions, createAuthenticator } from "./auth.js";
import { handleHttp, requestPath } from "./http-api.js";
import { jsonLog, type Log } from "./log.js";
import { Session } from "./session.js";

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** TCP port; 0 picks a free one (read it from `server.port`). Default 8787. */
  readonly port?: number;
  /** Interface to listen on. Default "127.0.0.1". */
  readonly host?: string;
  /** Folder holding one SQLite file per app id; created if missing. */
  readonly dataDir: string;
  /** JWT verification. Without it the server runs in development mode and trusts claimed user ids. */
  readonly auth?: AuthOptions;
  /** Largest WebSocket frame accepted from a client, in bytes. Default 1 MiB. */
  readonly maxFrameBytes?: number;
  /** Largest HTTP request body, in bytes (pushes and queries too large for a frame). Default 64 MiB. */
  readonly maxBodyBytes?: number;
  /** How often sockets are pinged; one that misses a ping is dropped as half-open. Default 30 s. */
  readonly heartbeatMs?: number;
  /** An app with no connection and no request for this long is closed (memory, file handle). Default 5 min. */
  readonly appIdleMs?: number;
  /**
   * Room messages (join, leave, emit, status updates) a connection may send: `messagesPerSecond`
   * on average, `burst` at once. The excess is dropped with a VALIDATION error. Default 200 / 400.
   * `statusIntervalMs`: each user's status reaches a connection at most once per interval (the
   * latest of it); default 50 ms.
   */
  readonly rooms?: { readonly messagesPerSecond?: number; readonly burst?: number; readonly statusIntervalMs?: number };
  /** Where structured log entries go. Default: JSON lines on stdout/stderr. */
  readonly log?: Log;
}

/** A running sync server. */
export interface TrellisServer {
  /** "http://host:port"; clients use it as `serverUrl`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, closes every connection, commits queued writes and closes the databases. */
  close(): Promise<void>;
}

/**
 * Starts a sync server; resolves once it is listening. Fails (rejects) when the port is taken or
 * the data folder cannot be written.
 *
 * @example
 * const server = await createServer({ port: 0, dataDir: "./data" });
 * const client = createClient({ schema, serverUrl: server.url, appId: "todos" });
 * await server.close();
 */
export async function createServer(options: ServerOptions): Promise<TrellisServer> {
  const log = options.log ?? jsonLog;
  const dataDir = writableDataDir(options.dataDir);
  const authenticate = await createAuthenticator(options.auth);
  const maxFrameBytes = positive(options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, "maxFrameBytes");
  const maxBodyBytes = positive(options.maxBodyBytes, 64 * 1024 * 1024, "maxBodyBytes");
  const heartbeatMs = positive(options.heartbeatMs, 30_000, "heartbeatMs");
  const roomRate = {
    messagesPerSecond: positive(options.rooms?.messagesPerSecond, 200, "rooms.messagesPerSecond"),
    burst: positive(options.rooms?.burst, 400, "rooms.burst"),
  };
  const statusIntervalMs = positive(options.rooms?.statusIntervalMs, 50, "rooms.statusIntervalMs");
  const hubs = new AppHubs(dataDir, positive(options.appIdleMs, 5 * 60_000, "appIdleMs"));
  let isClosing = false;
  let httpRequests = 0;

  const sockets = new WebSocketServer({ noServer: true, maxPayload: maxFrameBytes * 2 });
  const http = createHttpServer((request, response) => {
    httpRequests++;
    handleHttp(
      {
        hubs,
        authenticate,
        maxBodyBytes,
        isReady: () => !isClosing,
        metrics: () => {
          // The process's CPU time so far (ms): a load test reads it twice and divides by the wall time between.
          const cpu = process.cpuUsage();
          return { apps: hubs.size, connections: sockets.clients.size, httpRequests, cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000 };
        },
      },
      request,
      response,
    ).catch((error: unknown) => {
      log("error", "HTTP request failed", { error: String(error), url: request.url });
      if (!response.headersSent) response.writeHead(500, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { code: "INTERNAL", message: "The server failed to answer; see its log." } }));
    });
  });
  http.on("upgrade", (request, socket: Socket, head) => {
    const path = requestPath(request);
    if (isClosing || path !== "/v1/sync") {
      socket.end(`HTTP/1.1 ${isClosing ? "503 Service Unavailable" : "404 Not Found"}\r\nconnection: close\r\n\r\n`);
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => sockets.emit("connection", ws, request));
  });

  const context = { hubs, authenticate, maxFrameBytes, log, roomRate, statusIntervalMs };
  const alive = new WeakSet<WebSocket>();
  sockets.on("connection", (ws: WebSocket) => {
    alive.add(ws);
    ws.on("pong", () => alive.add(ws));
    ws.on("message", () => alive.add(ws));
    new Session(ws, context);
  });
  // A socket that answered no ping for a whole interval is half-open: its peer is gone.
  const heartbeat = setInterval(() => {
    for (const ws of sockets.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, heartbeatMs);
  heartbeat.unref();

  const port = await listen(http, options.port ?? 8787, options.host ?? "127.0.0.1");
  const host = options.host ?? "127.0.0.1";
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (options.auth === undefined) {
    log("warn", "DEVELOPMENT MODE: no auth configured, so every client is trusted as the user id it claims. Pass --jwt-secret (or auth) before exposing this server.");
  }
  log("info", "Trellis sync server listening", { url, dataDir });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      isClosing = true;
      clearInterval(heartbeat);
      // Pushes already queued commit and get their acks before the sockets close.
      await new Promise((resolve) => setImmediate(resolve));
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      for (const ws of sockets.clients) ws.close(1001, "server shutting down");
      await waitForSockets(sockets, 2_000);
      sockets.close();
      http.closeAllConnections();
      await closed;
      hubs.close();
      log("info", "Trellis sync server stopped", { url });
    })());
  return { url, port, close };
}

function writableDataDir(dataDir: string): string {
  if (typeof dataDir !== "string" || dataDir === "") throw new TypeError("createServer: dataDir must name a folder.");
  try {
    mkdirSync(dataDir, { recursive: true });
    accessSync(dataDir, constants.W_OK);
  } catch (error) {
    throw new Error(`The data folder ${dataDir} is not writable: ${(error as Error).message}`);
  }
  return dataDir;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`createServer: ${name} must be a positive whole number, got ${value}.`);
  return value;
}

function listen(http: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`Port ${port} on ${host} is already in use: stop the other server or pass another port.`)
          : error,
      );
    };
    http.once("error", failed);
    http.listen(port, host, () => {
      http.off("error", failed);
      resolve((http.address() as AddressInfo).port);
    });
  });
}

/** Waits for closing handshakes, then cuts whatever is left. */
async function waitForSockets(sockets: WebSocketServer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (sockets.clients.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  for (const ws of sockets.clients) ws.terminate();
}
