import { accessSync, constants, mkdirSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { DEFAULT_MAX_FRAME_BYTES } from "@trellis/core";
import { type WebSocket, WebSocketServer } from "ws";
import { Admission } from "./admission.js";
import { OpenApps } from "./open-apps.js";
import { AdminGate } from "./apps/admin-gate.js";
import { AppRegistry } from "./apps/app-registry.js";
import { type AuthOptions, createAuthenticator } from "./auth.js";
import { BodyBudget } from "./body-budget.js";
import { Checkpointer } from "./checkpointer.js";
import type { FaultHook } from "./faults.js";
import { DashboardFiles } from "./dashboard-files.js";
import { handleHttp, requestPath } from "./http-api.js";
import { resolveLimits, type ServerLimits } from "./limits.js";
import { createLog, type Log } from "./log.js";
import { createOriginPolicy, normalizeOrigin } from "./origin-policy.js";
import { Permissions } from "./permissions/permissions.js";
import { parseRules } from "./permissions/rules.js";
import { Session } from "./session.js";
import { WorkShares } from "./work-shares.js";
import { AppAuth } from "./apps/app-auth.js";

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
  /**
   * The secret of the admin API (`/v1/admin/`, docs/admin.md), at least 16 characters. With it
   * (production mode) only apps registered in the data folder are served; without it
   * (development mode) any app id works and is registered on first use.
   */
  readonly adminSecret?: string;
  /** Largest WebSocket frame accepted from a client, in bytes. Default 1 MiB. */
  readonly maxFrameBytes?: number;
  /** Largest push streamed over HTTP (`application/x-ndjson`), in bytes. Default 64 MiB. */
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
  /** Bounds on what clients may make the server hold or do (docs/server.md, "Limits"). */
  readonly limits?: ServerLimits;
  /**
   * Who may read and write what (docs/permissions.md): JSON rules per collection and room type.
   * Once given, everything they do not allow is denied. Without them every user may do
   * everything, and the server says so at start. Invalid rules make `createServer` reject with
   * the path of the mistake.
   */
  readonly permissions?: unknown;
  /**
   * Browser origins allowed to open a WebSocket or call the HTTP API: exact origins
   * (`"https://app.example.com"`), `"loopback"` (pages on localhost, 127.0.0.0/8, [::1]) or `"*"`.
   * Requests without an `Origin` (not from a browser) are always allowed. Default: `["loopback"]`
   * in development mode, so a web page a developer visits cannot reach their server; `["*"]` with
   * auth, where tokens (not cookies) decide.
   */
  readonly allowOrigins?: readonly string[];
  /**
   * Where structured log entries go. Default `createLog()`: info and up, JSON lines on
   * stdout/stderr (aligned text when stdout is a terminal).
   */
  readonly log?: Log;
  /** For the server's own tests: `fault` runs as each handler starts (see `FaultHook`). */
  readonly testing?: { readonly fault?: FaultHook };
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
  const log = options.log ?? createLog();
  // Debug entries cost work on every request: made only for a log that asks for them.
  const debug = log.level === "debug" ? log : undefined;
  const dataDir = writableDataDir(options.dataDir);
  const serverWideAuth = await createAuthenticator(options.auth);
  const maxFrameBytes = positive(options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, "maxFrameBytes");
  const maxBodyBytes = positive(options.maxBodyBytes, 64 * 1024 * 1024, "maxBodyBytes");
  const heartbeatMs = positive(options.heartbeatMs, 30_000, "heartbeatMs");
  const roomRate = {
    messagesPerSecond: positive(options.rooms?.messagesPerSecond, 200, "rooms.messagesPerSecond"),
    burst: positive(options.rooms?.burst, 400, "rooms.burst"),
  };
  const statusIntervalMs = positive(options.rooms?.statusIntervalMs, 50, "rooms.statusIntervalMs");
  const limits = resolveLimits(options.limits);
  const fault = options.testing?.fault;
  const origins = createOriginPolicy(
    (options.allowOrigins ?? (options.auth === undefined ? ["loopback"] : ["*"])).map(normalizeOrigin),
  );
  const permissions = new Permissions(options.permissions === undefined ? undefined : parseRules(options.permissions));
  const adminSecret = options.adminSecret;
  if (adminSecret !== undefined && (typeof adminSecret !== "string" || adminSecret.length < 16))
    throw new TypeError("createServer: adminSecret must be a string of at least 16 characters.");
  const opened = AppRegistry.open(dataDir);
  if (opened.error) throw new Error(opened.error.message);
  const apps = opened.data;
  const appAuth = new AppAuth(apps, serverWideAuth);
  const authenticate = appAuth.authenticate;
  const admin = adminSecret === undefined ? undefined : new AdminGate(adminSecret);
  const checkpointer = Checkpointer.start(log);
  const openApps = new OpenApps(dataDir, {
    idleMs: positive(options.appIdleMs, 5 * 60_000, "appIdleMs"),
    maxOpen: limits.openApps,
    maxQueryCost: limits.queryCost,
    sliceTriples: limits.pushSliceTriples,
    snapshotPartTriples: limits.snapshotPartTriples,
    checkpointer,
    permissions,
    apps,
    isOpenToAnyApp: adminSecret === undefined,
    log,
    fault,
  });
  const admission = new Admission(limits);
  const dashboard = new DashboardFiles();
  const work = new WorkShares(limits.workMsPerSecond, limits.workBurstMs);
  const counters = { throttled: 0 };
  const bodies = new BodyBudget(limits.bodyBytesInFlight);
  const sessions = new Set<Session>();
  let isClosing = false;
  let httpRequests = 0;

  const sockets = new WebSocketServer({ noServer: true, maxPayload: maxFrameBytes * 2 });
  const http = createHttpServer(
    {
      // Node requires the header timeout within the request timeout.
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      requestTimeout: limits.requestTimeoutMs,
      // How often Node checks those timeouts (its default, 30 s, would let them overrun by as much).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs, limits.requestTimeoutMs),
    },
    (request, response) => {
      httpRequests++;
      if (debug !== undefined) {
        const started = performance.now();
        response.once("finish", () =>
          debug("debug", "HTTP request", {
            method: request.method,
            path: request.url?.split("?", 1)[0],
            status: response.statusCode,
            ms: Math.round(performance.now() - started),
          }),
        );
      }
      const failed = (error: unknown) => {
        log("error", "HTTP request failed", {
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          url: request.url,
        });
        if (!response.headersSent) response.writeHead(500, { "content-type": "application/json" });
        response.end(
          JSON.stringify({ error: { code: "INTERNAL", message: "The server failed to answer; see its log." } }),
        );
      };
      try {
        handleHttp(
          {
            openApps,
            apps,
            admin,
            appAuth,
            authenticate,
            maxBodyBytes,
            maxQueryBodyBytes: limits.maxQueryBodyBytes,
            maxFrameBytes,
            work,
            counters,
            bodies,
            origins,
            dashboard,
            fault,
            isReady: () => !isClosing,
            metrics: () => {
              // The process's CPU time so far (ms): a load test reads it twice and divides by the wall time between.
              const cpu = process.cpuUsage();
              return {
                apps: openApps.size,
                connections: sockets.clients.size,
                httpRequests,
                throttled: counters.throttled,
                cpuUserMs: cpu.user / 1000,
                cpuSystemMs: cpu.system / 1000,
              };
            },
          },
          request,
          response,
        ).catch(failed);
      } catch (error) {
        failed(error);
      }
    },
  );
  http.on("upgrade", (request, socket: Socket, head) => {
    const refuse = (status: string, message?: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-type: text/plain\r\n\r\n${message ?? ""}`);
    };
    try {
      const path = requestPath(request);
      if (isClosing) return refuse("503 Service Unavailable");
      if (path !== "/v1/sync") return refuse("404 Not Found");
      const origin = request.headers.origin;
      if (!origins.allows(origin))
        return refuse(
          "403 Forbidden",
          `WebSocket connections from the origin ${origin} are not allowed; start the server with --allow-origin ${origin}.`,
        );
      const address = request.socket.remoteAddress ?? "unknown";
      const refusal = admission.admit(address);
      if (refusal !== undefined) return refuse("503 Service Unavailable", `No more connections: ${refusal}.`);
      let isAccepted = false;
      // ws answers a malformed handshake itself and never calls back: the slot is freed here then.
      socket.once("close", () => isAccepted || admission.release(address, false));
      sockets.handleUpgrade(request, socket, head, (ws) => {
        isAccepted = true;
        const session = new Session(ws, context, address);
        sessions.add(session);
        debug?.("debug", "WebSocket connected", { address, connections: sockets.clients.size });
        ws.once("close", (code) => {
          sessions.delete(session);
          debug?.("debug", "WebSocket closed", { address, code, connections: sockets.clients.size });
        });
        alive.add(ws);
        ws.on("pong", () => alive.add(ws));
        ws.on("message", () => alive.add(ws));
      });
    } catch (error) {
      log("error", "WebSocket upgrade failed", { error: String(error) });
      socket.destroy();
    }
  });
  // A socket error before the upgrade completes must not reach the process.
  http.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`);
  });

  const context = {
    openApps,
    authenticate,
    maxFrameBytes,
    log,
    roomRate,
    statusIntervalMs,
    limits,
    admission,
    work,
    counters,
    fault,
  };
  const alive = new WeakSet<WebSocket>();
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
  // Unsent bytes across all connections stay under a bound: the largest backlogs go first.
  const backlogs = setInterval(() => dropLargestBacklogs(sessions, limits.bufferedBytes), 250);
  backlogs.unref();

  const port = await listen(http, options.port ?? 8787, options.host ?? "127.0.0.1");
  const host = options.host ?? "127.0.0.1";
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (!permissions.isEnforced) {
    log(
      "warn",
      "NO PERMISSIONS: every user may read, write and delete every document of every app. Pass --permissions rules.json (or permissions) before real users sign in.",
    );
  }
  if (options.auth === undefined) {
    log(
      "warn",
      "DEVELOPMENT MODE: no auth configured, so every client is trusted as the user id it claims. Pass --jwt-secret (or auth) before exposing this server.",
    );
  }
  if (adminSecret === undefined) {
    log(
      "warn",
      "OPEN APPS: no admin secret, so any app id works and makes a new app. Pass --admin-secret (or adminSecret) and create apps with the admin API before exposing this server.",
    );
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      isClosing = true;
      clearInterval(heartbeat);
      clearInterval(backlogs);
      work.close();
      // Pushes already queued commit and get their acks before the sockets close.
      await new Promise((resolve) => setImmediate(resolve));
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      for (const ws of sockets.clients) ws.close(1001, "server shutting down");
      await waitForSockets(sockets, 2_000);
      sockets.close();
      http.closeAllConnections();
      await closed;
      openApps.close();
      apps.close();
      await checkpointer?.close();
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
    throw new Error(`The data folder ${dataDir} is not writable: ${(error as Error).message}`, { cause: error });
  }
  return dataDir;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new TypeError(`createServer: ${name} must be a positive whole number, got ${value}.`);
  return value;
}

function listen(http: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const reasons: Record<string, string> = {
      EADDRINUSE: `Port ${port} on ${host} is already in use: stop the other server or pass another port.`,
      EACCES: `Port ${port} on ${host} needs privileges this process lacks: pass a port from 1024 up.`,
      EADDRNOTAVAIL: `Cannot listen on ${host}: no interface of this machine has that address; pass 127.0.0.1, 0.0.0.0 or one of its addresses.`,
      ENOTFOUND: `Cannot listen on ${host}: no such host name; pass 127.0.0.1, 0.0.0.0 or one of this machine's addresses.`,
    };
    const failed = (error: NodeJS.ErrnoException) => {
      const reason = error.code === undefined ? undefined : reasons[error.code];
      reject(reason === undefined ? error : new Error(reason));
    };
    http.once("error", failed);
    http.listen(port, host, () => {
      http.off("error", failed);
      resolve((http.address() as AddressInfo).port);
    });
  });
}

/** While all connections together hold more than `limit` unsent bytes, drops the one holding most. */
function dropLargestBacklogs(sessions: ReadonlySet<Session>, limit: number): void {
  let total = 0;
  for (const session of sessions) total += session.bufferedBytes;
  if (total <= limit) return;
  const bySize = [...sessions].sort((a, b) => b.bufferedBytes - a.bufferedBytes);
  for (const session of bySize) {
    if (total <= limit) return;
    total -= session.bufferedBytes;
    session.dropSlow("the server's backlog across connections is full");
  }
}

/** Waits for closing handshakes, then cuts whatever is left. */
async function waitForSockets(sockets: WebSocketServer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (sockets.clients.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  for (const ws of sockets.clients) ws.terminate();
}
