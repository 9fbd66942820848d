import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type DatabaseErrorCode,
  type DatabaseResult,
  fail,
  ID_RULE,
  isId,
  ok,
  parseClientValue,
  type Triple,
} from "@trellis/core";
import type { OpenApps } from "./open-apps.js";
import { type AdminContext, answerAdmin } from "./apps/admin-api.js";
import type { Authenticate, Identity } from "./auth.js";
import type { BodyBudget } from "./body-budget.js";
import { header, type HttpAnswer, jsonObject, readBody } from "./http-body.js";
import type { DashboardFiles } from "./dashboard-files.js";
import type { FaultHook } from "./faults.js";
import type { OriginPolicy } from "./origin-policy.js";
import type { RuleUser } from "./permissions/permissions.js";
import { NDJSON_PUSH, readStreamedPush } from "./streamed-push.js";
import { receiveCostMs, refusedCostMs, type WorkShares } from "./work-shares.js";

/** What the HTTP endpoints share with the rest of the server. */
export interface HttpContext extends AdminContext {
  readonly openApps: OpenApps;
  readonly authenticate: Authenticate;
  /** Largest `/v1/push` body streamed as lines (a JSON body is capped at `maxQueryBodyBytes`). */
  readonly maxBodyBytes: number;
  /** Largest `/v1/query` body. */
  readonly maxQueryBodyBytes: number;
  /** Largest line of a streamed push (the frame limit). */
  readonly maxFrameBytes: number;
  /** Each user's share of the server's time (HTTP queries spend it too). */
  readonly work: WorkShares;
  /** Running counts for `/v1/metrics`. */
  readonly counters: { throttled: number };
  /** Bytes of request bodies being received at once, by every request together. */
  readonly bodies: BodyBudget;
  /** Which browser origins may call; requests from others are refused before anything runs. */
  readonly origins: OriginPolicy;
  /** The dashboard's page and files, under /dashboard. */
  readonly dashboard: DashboardFiles;
  /** Figures for `GET /v1/metrics`. */
  readonly metrics: () => Record<string, number>;
  /** False while the server shuts down: `/health` then answers 503. */
  readonly isReady: () => boolean;
  readonly fault?: FaultHook | undefined;
}

const STATUS: Record<DatabaseErrorCode, number> = {
  VALIDATION: 400,
  PROTOCOL: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  CLOCK_DRIFT: 409,
  STORAGE: 503,
  NETWORK: 503,
  INTERNAL: 500,
};

/**
 * The HTTP API: `GET /health`, `GET /v1/metrics`, `POST /v1/query` (initial loads and
 * preloads) and `POST /v1/push` (pushes too large for a frame). A POST is authenticated from its
 * headers before its body is read, and its body is capped by route; bodies are checked with the
 * same parsers as WebSocket frames; answers are JSON, errors `{ error: { code, message } }`.
 * CORS answers the origins the server allows (see `OriginPolicy`): an app served from another
 * origin calls it with its token, not cookies.
 */
export async function handleHttp(
  context: HttpContext,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const path = requestPath(request);
  // The dashboard's files are public and hold no data (its data comes from the admin API).
  if (path !== undefined && context.dashboard.serve(request.method, path, response))
    return discardBody(request, response);
  const origin = header(request, "origin");
  // The dashboard calls the admin API from the server's own origin. Only there: a page behind a
  // rebound DNS name is on the "same host" too, and the admin API alone still asks it for a secret.
  const isDashboardCall = path?.startsWith("/v1/admin/") === true && isSameHost(origin, header(request, "host"));
  if (!context.origins.allows(origin) && !isDashboardCall) {
    discardBody(request, response);
    return sendError(
      response,
      {
        code: "UNAUTHORIZED",
        message: `Requests from the origin ${JSON.stringify(origin)} are not allowed; start the server with --allow-origin ${origin ?? "<origin>"}.`,
      },
      403,
    );
  }
  if (origin !== undefined) {
    response.setHeader("access-control-allow-origin", context.origins.isOpen ? "*" : origin);
    if (!context.origins.isOpen) response.setHeader("vary", "origin");
  }
  response.setHeader("access-control-allow-headers", "authorization, content-type, x-trellis-app, x-trellis-user");
  response.setHeader("access-control-allow-methods", "GET, POST, PUT, DELETE, OPTIONS");
  if (request.method === "OPTIONS") return void response.writeHead(204).end();
  if (path === undefined)
    return sendError(response, {
      code: "PROTOCOL",
      message: `Malformed request target ${JSON.stringify(request.url)}.`,
    });
  context.fault?.("http");
  const route = `${request.method} ${path}`;
  const admin = await answerAdmin(context, request, path);
  if (admin !== undefined) return reply(request, response, admin, request.method === "POST" ? 201 : 200);
  switch (route) {
    case "GET /health":
      return context.isReady() ? send(response, 200, { status: "ok" }) : send(response, 503, { status: "closing" });
    case "GET /v1/metrics":
      return send(response, 200, context.metrics());
    case "POST /v1/query":
    case "POST /v1/push":
      return reply(request, response, await answerPost(context, path, request), 200);
    default:
      discardBody(request, response);
      return sendError(response, { code: "NOT_FOUND", message: `No endpoint ${route}. See docs/protocol.md.` }, 404);
  }
}

/** Sends an answer: its data with `status`, or its error (the rest of the body discarded). */
function reply(request: IncomingMessage, response: ServerResponse, answer: HttpAnswer, status: number): void {
  if (!answer.error) return send(response, status, answer.data);
  discardBody(request, response);
  sendError(response, answer.error, answer.status);
}

/** How long the rest of a refused body may keep arriving after the answer before the connection is cut. */
const DISCARD_MS = 5_000;

/**
 * A body refused before (or while) it was read is not kept: Node discards what still arrives,
 * without holding it, so the client reads the answer rather than a reset; a client that goes on
 * sending for long after the answer is cut off.
 */
function discardBody(request: IncomingMessage, response: ServerResponse): void {
  if (request.complete) return;
  response.once("finish", () => {
    if (request.complete) return;
    request.resume();
    const timer = setTimeout(() => request.socket.destroy(), DISCARD_MS);
    timer.unref();
    request.once("end", () => clearTimeout(timer));
    request.once("close", () => clearTimeout(timer));
  });
}

/** The HTTP status of an error: a write the rules refuse is 403 (the user is known, not allowed). */
function statusOf(error: { readonly code: DatabaseErrorCode; readonly details?: unknown }): number {
  const isRefusedByRules =
    error.code === "UNAUTHORIZED" &&
    typeof error.details === "object" &&
    error.details !== null &&
    "operation" in error.details;
  return isRefusedByRules ? 403 : STATUS[error.code];
}

/** Whether a browser's `Origin` names the host the request was sent to (a page of this server). */
function isSameHost(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined || host === undefined) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** The path of a request, or undefined when its target is not a valid URL path (e.g. "//"). */
export function requestPath(request: IncomingMessage): string | undefined {
  try {
    return new URL(request.url ?? "/", "http://localhost").pathname;
  } catch {
    return undefined;
  }
}

/**
 * Who asks: a user (its token, or in development mode the id it claims), or server code with a
 * service key of one app (`authorization: Bearer tsk_…`), privileged or, with
 * `x-trellis-user`, acting as that user under the rules. A user's token is checked with the keys
 * of the app named by `x-trellis-app` (apps may have their own, see docs/admin.md), or the
 * server's without it.
 */
interface Caller {
  readonly user: RuleUser;
  /** How it was authenticated: a service key, or a token checked for one app, or for the server. */
  readonly kind: "service" | "app" | "server";
  /** The only app it may ask about (service keys, and tokens checked for one app). */
  readonly appId?: string;
  /** Whose share of server time its queries spend, within the app. */
  readonly shareKey: string;
}

async function callerOf(context: HttpContext, request: IncomingMessage): Promise<DatabaseResult<Caller>> {
  const token = bearer(request);
  const claimed = header(request, "x-trellis-user");
  if (token?.startsWith(SERVICE_KEY_PREFIX)) {
    const grant = context.apps.verifyKey(token);
    if (grant === undefined)
      return fail(
        "UNAUTHORIZED",
        "The service key was refused: it is not a key of an app on this server, or it was revoked.",
      );
    if (claimed !== undefined && claimed.length > 256)
      return fail("PROTOCOL", "x-trellis-user names a user id of at most 256 characters.");
    const user: RuleUser =
      claimed === undefined ? { id: null, claims: {}, isPrivileged: true } : { id: claimed, claims: {} };
    return ok({ user, kind: "service", appId: grant.appId, shareKey: claimed ?? `service:${grant.keyId}` });
  }
  const appId = header(request, "x-trellis-app");
  const identity = await context.authenticate({ token, userId: claimed, appId });
  if (identity.error) return identity;
  const shareKey = identity.data.userId ?? "anon:http";
  return ok(
    appId === undefined
      ? { user: ruleUser(identity.data), kind: "server", shareKey }
      : { user: ruleUser(identity.data), kind: "app", appId, shareKey },
  );
}

/** How service keys begin (see `AppRegistry.createKey`). */
const SERVICE_KEY_PREFIX = "tsk_";

async function answerPost(context: HttpContext, path: string, request: IncomingMessage): Promise<HttpAnswer> {
  // Who asks is known from the headers: nobody unauthenticated makes the server buffer a body.
  const caller = await callerOf(context, request);
  if (caller.error) return caller;
  if (path === "/v1/push" && header(request, "content-type")?.split(";")[0]?.trim() === NDJSON_PUSH) {
    const streamed = await readStreamedPush(request, {
      maxBytes: context.maxBodyBytes,
      maxLineBytes: context.maxFrameBytes,
      bodies: context.bodies,
    });
    if (streamed.error) return streamed;
    const { appId, clientId, batchId, ...rest } = streamed.data.envelope;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined)
      return fail(
        "PROTOCOL",
        `Unknown key ${JSON.stringify(unknown)} in the first line of a streamed push (expected appId, clientId, batchId).`,
      );
    return push(context, { appId, clientId, batchId }, streamed.data.triples, caller.data);
  }
  // JSON bodies are parsed whole: large pushes stream as lines instead (see readStreamedPush).
  const isQuery = path === "/v1/query";
  const hint = isQuery
    ? ""
    : ` Send a larger push as ${NDJSON_PUSH} (its envelope, then one triple per line), up to ${context.maxBodyBytes} bytes.`;
  const body = await readBody(
    request,
    isQuery ? context.maxQueryBodyBytes : Math.min(context.maxBodyBytes, context.maxQueryBodyBytes),
    context.bodies,
    hint,
  );
  if (body.error) return body;
  return isQuery ? answerQuery(context, body.data, caller.data) : answerPush(context, body.data, caller.data);
}

/**
 * A query over HTTP runs on its user's share of server time, as its WebSocket subscriptions do:
 * a user over its share waits until it is back under (at most `MAX_SHARE_WAIT_MS`, then 503).
 */
async function answerQuery(context: HttpContext, body: string, caller: Caller): Promise<DatabaseResult<unknown>> {
  const fields = jsonObject(body, ["appId", "query", "cursor"]);
  if (fields.error) return fields;
  const { appId, query, cursor = null } = fields.data;
  // The body is a `subscribe` without its id: the frame parser checks it.
  const parsed = parseClientValue({ type: "subscribe", queryId: "http", query, cursor });
  if (parsed.error) return parsed;
  if (parsed.data.type !== "subscribe") return fail("INTERNAL", "Parsed a query body as another message.");
  const hub = hubOf(context, appId, caller);
  if (hub.error) return hub;
  const key = `${appId}\u0000${caller.shareKey}`;
  const share = context.work.acquire(key);
  try {
    const waitMs = share.waitMs();
    if (waitMs > MAX_SHARE_WAIT_MS)
      return fail(
        "NETWORK",
        "This user has taken more than its share of the server's time; try again in a few seconds.",
        { retryAfterMs: waitMs },
      );
    if (waitMs > 0) {
      context.counters.throttled++;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
    const started = performance.now();
    const answer = hub.data.query(parsed.data.query, parsed.data.cursor, caller.user);
    const isRefused = answer.error !== undefined && answer.error.code !== "STORAGE" && answer.error.code !== "INTERNAL";
    const ms = performance.now() - started + receiveCostMs(body.length);
    share.spend(isRefused ? refusedCostMs(ms) : ms);
    return answer;
  } finally {
    context.work.release(key);
  }
}

/** The longest an HTTP query waits for its user's share to refill before it is refused. */
const MAX_SHARE_WAIT_MS = 10_000;

async function answerPush(context: HttpContext, body: string, caller: Caller): Promise<DatabaseResult<unknown>> {
  const fields = jsonObject(body, ["appId", "clientId", "batchId", "triples"]);
  if (fields.error) return fields;
  const { appId, clientId, batchId, triples } = fields.data;
  const parsed = parseClientValue({ type: "push", batchId, triples });
  if (parsed.error) return parsed;
  if (parsed.data.type !== "push") return fail("INTERNAL", "Parsed a push body as another message.");
  return push(context, { appId, clientId, batchId }, parsed.data.triples, caller);
}

/** Checks a push's envelope, then stores its (already checked) triples and answers like `ack`. */
async function push(
  context: HttpContext,
  envelope: Record<"appId" | "clientId" | "batchId", unknown>,
  triples: readonly Triple[],
  caller: Caller,
): Promise<DatabaseResult<unknown>> {
  const { appId, clientId, batchId } = envelope;
  const checked = parseClientValue({ type: "push", batchId, triples: [] });
  if (checked.error) return checked;
  if (!isId(clientId)) return fail("PROTOCOL", `clientId must be ${ID_RULE}.`);
  const hub = hubOf(context, appId, caller);
  if (hub.error) return hub;
  const pushed = await hub.data.push(undefined, triples, caller.user);
  const id = batchId as string;
  return pushed.error
    ? fail(pushed.error.code, pushed.error.message, { ...pushed.error.details, batchId: id })
    : ok({ batchId: id, cursor: pushed.data.cursor });
}

/** Whom a request is for, as permission rules see it. */
function ruleUser(identity: Identity): RuleUser {
  return { id: identity.userId, claims: identity.claims };
}

function hubOf(context: HttpContext, appId: unknown, caller: Caller) {
  if (typeof appId !== "string") return fail("PROTOCOL", "appId must be a string.");
  if (caller.appId !== undefined && caller.appId !== appId) {
    const what =
      caller.kind === "service"
        ? "This service key is not a key"
        : `The token was checked for app "${caller.appId}" (x-trellis-app), not`;
    return fail("UNAUTHORIZED", `${what} of app "${appId}".`, { appId });
  }
  if (caller.kind === "server" && context.appAuth.hasOwn(appId)) {
    return fail(
      "UNAUTHORIZED",
      `App "${appId}" checks tokens with keys of its own: send the header x-trellis-app: ${appId} (the Trellis client does).`,
      { appId },
    );
  }
  return context.openApps.get(appId);
}

function bearer(request: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header(request, "authorization") ?? "");
  return match?.[1];
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response
    .writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) })
    .end(text);
}

function sendError(
  response: ServerResponse,
  error: { readonly code: DatabaseErrorCode; readonly message: string; readonly details?: unknown },
  status = statusOf(error),
): void {
  const details = error.details === undefined ? {} : { details: error.details };
  send(response, status, { error: { code: error.code, message: error.message, ...details } });
}
