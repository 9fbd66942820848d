import {
  DatabaseError,
  type DatabaseResult,
  fail,
  type NormalizedQuery,
  ok,
  parseServerValue,
  type ServerMessage,
  type Triple,
} from "@trellis/core";
import type { OutboxEntry } from "./outbox.js";
import { httpUrl } from "./server-url.js";

/** Who talks to the server over HTTP, and how. */
export interface HttpContext {
  readonly serverUrl: string;
  readonly appId: string;
  readonly clientId: string;
  /** Sent as `x-trellis-user` for a development server; a server with auth ignores it. */
  readonly userId: string | undefined;
  /** The token for `authorization: Bearer …`, if any; asked for on every request. */
  readonly token: () => Promise<string | undefined>;
  readonly fetch?: typeof fetch;
}

/** Triples from the server and the cursor to continue after them. */
export interface SyncPayload {
  readonly triples: readonly Triple[];
  readonly cursor: string;
}

/**
 * Checks `{ triples, cursor }` that did not come through the socket (an HTTP answer, preloaded
 * data) with the protocol's own parser, as the body of a `changes` message.
 *
 * @example
 * const response = await fetch(`${serverUrl}/v1/query`, {
 *   method: "POST",
 *   headers: { "content-type": "application/json", "x-trellis-app": appId },
 *   body: JSON.stringify({ appId, query: normalized, cursor: null }),
 * });
 * const { data, error } = parseSyncPayload(await response.json(), "The answer to POST /v1/query");
 */
export function parseSyncPayload(value: unknown, what: string): DatabaseResult<SyncPayload> {
  const parsed = parseAs("changes", value, what);
  return parsed.error ? parsed : ok({ triples: parsed.data.triples, cursor: parsed.data.cursor });
}

/**
 * Runs a query on the server (`POST /v1/query`): every document of its result, in full.
 *
 * @example
 * const { data, error } = await fetchQuery(http, normalized); // data: { triples, cursor }
 */
export async function fetchQuery(context: HttpContext, query: NormalizedQuery): Promise<DatabaseResult<SyncPayload>> {
  const answer = await post(context, "/v1/query", { appId: context.appId, query, cursor: null });
  return answer.error ? answer : parseSyncPayload(answer.data, "The answer to POST /v1/query");
}

/**
 * Pushes one outbox entry over HTTP (`POST /v1/push`), for entries too large for a frame.
 * A NETWORK error means the request did not get an answer from the server; it may be retried.
 *
 * @example
 * for (const entry of outbox.entries()) {
 *   const { error } = await pushEntry(http, entry);
 *   if (error) break; // the entries after it wait: the server stores them in order
 * }
 */
export async function pushEntry(context: HttpContext, entry: OutboxEntry): Promise<DatabaseResult<void>> {
  // Streamed as lines (the envelope, then a triple per line): the server checks and stores a large
  // batch as it arrives, never parsing it as one JSON document.
  const lines = [JSON.stringify({ appId: context.appId, clientId: context.clientId, batchId: entry.batchId })];
  for (const triple of entry.triples) lines.push(JSON.stringify(triple));
  const answer = await post(context, "/v1/push", lines.join("\n"), "application/x-ndjson");
  if (answer.error) return answer;
  const ack = parseAs("ack", answer.data, "The answer to POST /v1/push");
  return ack.error ? ack : ok(undefined);
}

/**
 * POSTs JSON (or text already serialized, of `contentType`); a JSON answer of 200 is the data, a
 * server's `{ error }` is that error, anything else NETWORK.
 */
async function post(
  context: HttpContext,
  path: string,
  body: unknown,
  contentType = "application/json",
): Promise<DatabaseResult<unknown>> {
  const url = httpUrl(context.serverUrl, path);
  let response: Response;
  let text: string;
  try {
    // The app first: a server checks the token with that app's keys before it reads the body.
    const headers: Record<string, string> = { "content-type": contentType, "x-trellis-app": context.appId };
    const token = await context.token();
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (context.userId !== undefined) headers["x-trellis-user"] = context.userId;
    response = await (context.fetch ?? fetch)(url, {
      method: "POST",
      headers,
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    text = await response.text();
  } catch (error) {
    return fail("NETWORK", `POST ${url} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  if (response.status === 200)
    return answer === undefined
      ? fail("PROTOCOL", `POST ${url} answered with something that is not JSON.`)
      : ok(answer);
  const refusal = typeof answer === "object" && answer !== null ? (answer as { error?: unknown }).error : undefined;
  const parsed = parseAs("error", refusal, `The error answer to POST ${path}`);
  return parsed.error
    ? fail("NETWORK", `POST ${url} answered ${response.status} without a Trellis error.`, { status: response.status })
    : { data: undefined, error: errorOf(parsed.data) };
}

function parseAs<K extends ServerMessage["type"]>(
  type: K,
  value: unknown,
  what: string,
): DatabaseResult<Extract<ServerMessage, { type: K }>> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return fail("PROTOCOL", `${what} is not a JSON object.`);
  // Already parsed, and HTTP bodies have no frame limit of their own: a preload may be large.
  const parsed = parseServerValue({ ...value, type });
  if (parsed.error) return fail("PROTOCOL", `${what} is malformed: ${parsed.error.message}`);
  return ok(parsed.data as Extract<ServerMessage, { type: K }>);
}

function errorOf(message: Extract<ServerMessage, { type: "error" }>): DatabaseError {
  return new DatabaseError(
    message.code,
    message.message,
    message.details === undefined ? undefined : { ...message.details },
  );
}
