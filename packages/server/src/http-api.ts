import type { IncomingMessage, ServerResponse } from "node:http";
import { type DatabaseError, type DatabaseErrorCode, type DatabaseResult, fail, ok, parseClientValue } from "@trellis/core";
import type { AppHubs } from "./app-hubs.js";
import type { Authenticate } from "./auth.js";

/** What the HTTP endpoints share with the rest of the server. */
export interface HttpContext {
  readonly hubs: AppHubs;
  readonly authenticate: Authenticate;
  readonly maxBodyBytes: number;
  /** Figures for `GET /v1/metrics`. */
  readonly metrics: () => Record<string, number>;
  /** False while the server shuts down: `/health` then answers 503. */
  readonly isReady: () => boolean;
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
 * preloads) and `POST /v1/push` (pushes too large for a frame). Bodies are checked with the
 * same parsers as WebSocket frames; answers are JSON, errors `{ error: { code, message } }`.
 * CORS is open: an app served from another origin calls it with its token, not cookies.
 */
export async function handleHttp(context: HttpContext, request: IncomingMessage, response: ServerResponse): Promise<void> {
  response.setHeader("access-control-allow-origin", "*");
  response.setHeader("access-control-allow-headers", "authorization, content-type, x-trellis-user");
  response.setHeader("access-control-allow-methods", "GET, POST, OPTIONS");
  const path = requestPath(request);
  if (request.method === "OPTIONS") return void response.writeHead(204).end();
  if (path === undefined) return sendError(response, { code: "PROTOCOL", message: `Malformed request target ${JSON.stringify(request.url)}.` });
  const route = `${request.method} ${path}`;
  switch (route) {
    case "GET /health":
      return context.isReady() ? send(response, 200, { status: "ok" }) : send(response, 503, { status: "closing" });
    case "GET /v1/metrics":
      return send(response, 200, context.metrics());
    case "POST /v1/query":
    case "POST /v1/push": {
      const answer = await answerPost(context, path, request);
      return answer.error ? sendError(response, answer.error) : send(response, 200, answer.data);
    }
    default:
      return sendError(response, { code: "NOT_FOUND", message: `No endpoint ${route}. See docs/protocol.md.` }, 404);
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

async function answerPost(context: HttpContext, path: string, request: IncomingMessage): Promise<DatabaseResult<unknown>> {
  const body = await readBody(request, context.maxBodyBytes);
  if (body.error) return body;
  const user = await context.authenticate({ token: bearer(request), userId: header(request, "x-trellis-user") });
  if (user.error) return user;
  return path === "/v1/query" ? answerQuery(context, body.data) : answerPush(context, body.data, user.data);
}

function answerQuery(context: HttpContext, body: string): DatabaseResult<unknown> {
  const fields = jsonObject(body, ["appId", "query", "cursor"]);
  if (fields.error) return fields;
  const { appId, query, cursor = null } = fields.data;
  // The body is a `subscribe` without its id: the frame parser checks it.
  const parsed = parseClientValue({ type: "subscribe", queryId: "http", query, cursor });
  if (parsed.error) return parsed;
  if (parsed.data.type !== "subscribe") return fail("INTERNAL", "Parsed a query body as another message.");
  const hub = hubOf(context, appId);
  if (hub.error) return hub;
  return hub.data.query(parsed.data.query, parsed.data.cursor);
}

async function answerPush(context: HttpContext, body: string, userId: string | null): Promise<DatabaseResult<unknown>> {
  const fields = jsonObject(body, ["appId", "clientId", "batchId", "triples"]);
  if (fields.error) return fields;
  const { appId, clientId, batchId, triples } = fields.data;
  const parsed = parseClientValue({ type: "push", batchId, triples });
  if (parsed.error) return parsed;
  if (parsed.data.type !== "push") return fail("INTERNAL", "Parsed a push body as another message.");
  if (typeof clientId !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(clientId)) return fail("PROTOCOL", "clientId must be 1-64 characters of [A-Za-z0-9_-].");
  const hub = hubOf(context, appId);
  if (hub.error) return hub;
  const pushed = await hub.data.push(undefined, parsed.data.triples, userId);
  const { batchId: id } = parsed.data;
  return pushed.error ? fail(pushed.error.code, pushed.error.message, { ...pushed.error.details, batchId: id }) : ok({ batchId: id, cursor: pushed.data.cursor });
}

function hubOf(context: HttpContext, appId: unknown) {
  if (typeof appId !== "string") return fail("PROTOCOL", "appId must be a string.");
  return context.hubs.get(appId);
}

/** A JSON object with only the given keys (others are refused, as in frames). */
function jsonObject(body: string, allowed: readonly string[]): DatabaseResult<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return fail("PROTOCOL", "The request body is not JSON.");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("PROTOCOL", "The request body must be a JSON object.");
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) return fail("PROTOCOL", `Unknown key ${JSON.stringify(key)} in the request body (expected ${allowed.join(", ")}).`);
  }
  return ok(value as Record<string, unknown>);
}

function readBody(request: IncomingMessage, maxBytes: number): Promise<DatabaseResult<string>> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on("end", () =>
      resolve(tooLarge ? fail("PROTOCOL", `The request body is larger than ${maxBytes} bytes.`, { limit: maxBytes }) : ok(Buffer.concat(chunks).toString("utf8"))),
    );
    request.on("error", (error) => resolve(fail("NETWORK", `The request failed: ${error.message}`)));
  });
}

function bearer(request: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header(request, "authorization") ?? "");
  return match?.[1];
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) }).end(text);
}

function sendError(response: ServerResponse, error: { readonly code: DatabaseErrorCode; readonly message: string; readonly details?: unknown }, status = STATUS[error.code]): void {
  const details = error.details === undefined ? {} : { details: error.details };
  send(response, status, { error: { code: error.code, message: error.message, ...details } });
}
