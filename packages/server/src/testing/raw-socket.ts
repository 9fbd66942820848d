/**
 * Test support for the server's own suites (not exported from the package): a raw WebSocket that
 * speaks the sync protocol by hand, so tests can send anything (bad frames included) and wait for
 * exactly the answers they expect, plus small builders of triples and queries.
 */
import {
  createSchema,
  encodeHlc,
  normalizeQuery,
  type NormalizedQuery,
  PROTOCOL_VERSION,
  type ServerMessage,
  t,
  TICKS_PER_MS,
  type Triple,
} from "@trellis/core";
import WebSocket from "ws";

/** How long a test waits for one expected message before failing with what did arrive. */
const WAIT_MS = 10_000;

type MessageOf<T extends ServerMessage["type"]> = Extract<ServerMessage, { type: T }>;

/** A raw sync connection: everything the server sent is queued until a `next` takes it. */
export interface RawSocket {
  readonly ws: WebSocket;
  /** Sends a value as one JSON text frame. */
  send(message: unknown): void;
  /** Sends text (or bytes) exactly as given; `binary` makes it a binary frame. */
  sendRaw(data: string | Buffer, options?: { readonly binary?: boolean }): void;
  /** Takes the first queued message of `type` (or one of several types) matching `where`, waiting for it if needed. */
  next<T extends ServerMessage["type"]>(
    type: T | readonly T[],
    where?: (message: MessageOf<T>) => boolean,
    timeoutMs?: number,
  ): Promise<MessageOf<T>>;
  /** Messages received and not taken yet. */
  pending(): ServerMessage[];
  /**
   * Resolves once the server has handled everything sent before: sends `ping` and takes its
   * `pong`. Whatever the server sent before it is then queued, so "nothing arrived" is a check.
   */
  sync(): Promise<void>;
  /** Resolves with the close code and reason once the connection is closed (by either side). */
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>;
  close(): Promise<void>;
}

/** Every socket opened by {@link openSocket}, so a suite can close leftovers in `afterEach`. */
const open = new Set<RawSocket>();

/** Opens a raw WebSocket to `path` of a server at `url` ("http://host:port"), as a page of `origin` when given. */
export async function openSocket(
  url: string,
  path = "/v1/sync",
  options: { readonly origin?: string } = {},
): Promise<RawSocket> {
  const ws = new WebSocket(
    `${url.replace(/^http/, "ws")}${path}`,
    options.origin === undefined ? {} : { origin: options.origin },
  );
  const queue: ServerMessage[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => {
      resolve({ code, reason: reason.toString("utf8") });
      notify();
    });
  });
  ws.on("message", (data) => {
    queue.push(JSON.parse(data.toString()) as ServerMessage);
    notify();
  });
  ws.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_request, response) =>
      reject(new Error(`WebSocket upgrade refused: HTTP ${response.statusCode}`)),
    );
    ws.once("error", reject);
  });

  const socket: RawSocket = {
    ws,
    send: (message) => ws.send(JSON.stringify(message)),
    sendRaw: (data, options) => ws.send(data, { binary: options?.binary ?? false }),
    next: (type, where, timeoutMs = WAIT_MS) =>
      new Promise((resolve, reject) => {
        const types: readonly string[] = typeof type === "string" ? [type] : type;
        const take = (): boolean => {
          const index = queue.findIndex(
            (message) => types.includes(message.type) && (where === undefined || where(message as never)),
          );
          if (index === -1) return false;
          resolve(queue.splice(index, 1)[0] as never);
          return true;
        };
        if (take()) return;
        const closedError = () =>
          new Error(
            `The connection closed with no ${types.join(" or ")} message; queued: ${JSON.stringify(queue).slice(0, 2000)}`,
          );
        if (ws.readyState === WebSocket.CLOSED) return reject(closedError());
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `No ${types.join(" or ")} message within ${timeoutMs} ms; queued: ${JSON.stringify(queue).slice(0, 2000)}`,
            ),
          );
        }, timeoutMs);
        const check = () => {
          const isTaken = take();
          if (!isTaken && ws.readyState !== WebSocket.CLOSED) return;
          clearTimeout(timer);
          waiters.delete(check);
          if (!isTaken) reject(closedError());
        };
        waiters.add(check);
      }),
    pending: () => [...queue],
    sync: async () => {
      ws.send(JSON.stringify({ type: "ping" }));
      await socket.next("pong");
    },
    closed,
    close: async () => {
      open.delete(socket);
      if (ws.readyState !== WebSocket.CLOSED) ws.close();
      await closed;
    },
  };
  open.add(socket);
  return socket;
}

/** Opens a connection and says `hello`; resolves once `welcome` arrived. */
export async function connect(
  url: string,
  appId: string,
  hello: { readonly clientId?: string; readonly token?: string; readonly userId?: string } = {},
): Promise<RawSocket & { readonly welcome: MessageOf<"welcome"> }> {
  const socket = await openSocket(url);
  socket.send({
    type: "hello",
    protocol: PROTOCOL_VERSION,
    appId,
    clientId: hello.clientId ?? nextId("client"),
    ...withoutUndefined(hello),
  });
  const welcome = await socket.next("welcome");
  return Object.assign(socket, { welcome });
}

/** Closes every socket a test left open, but those in `keep`. */
export async function closeAllSockets(...keep: readonly RawSocket[]): Promise<void> {
  await Promise.all([...open].filter((socket) => !keep.includes(socket)).map((socket) => socket.close()));
}

function withoutUndefined(hello: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(hello)) if (value !== undefined && key !== "clientId") out[key] = value;
  return out;
}

let counter = 0;
/** A fresh id for batches, clients and queries. */
export function nextId(prefix: string): string {
  return `${prefix}-${(++counter).toString(36)}`;
}

/** The schema the server suites write: todos with a title, a done flag and tags. */
const testSchema = createSchema({
  entities: {
    todos: { title: t.string({ fallback: "" }), done: t.boolean({ fallback: false }), tags: t.refMany("tags") },
    tags: { label: t.string({ fallback: "" }) },
    notes: { text: t.string({ fallback: "" }) },
  },
});

/** A normalized query of `testSchema`, as a client would send it. */
export function query(collection: "todos" | "tags" | "notes", input: unknown = {}): NormalizedQuery {
  const normalized = normalizeQuery(testSchema.collections[collection]!, input, testSchema.collections);
  if (normalized.error) throw normalized.error;
  return normalized.data;
}

/** Clock readings of a test writer: increasing, at about the current time. */
export function writer(node: string): () => string {
  let last = 0;
  return () => {
    last = Math.max(last + 1, Date.now() * TICKS_PER_MS);
    return encodeHlc({ ticks: last, node });
  };
}

/** A clock reading `aheadMs` in the future: refused by the server beyond its drift limit. */
export function futureHlc(aheadMs: number, node = "future"): string {
  return encodeHlc({ ticks: (Date.now() + aheadMs) * TICKS_PER_MS, node });
}

/** The triples of a whole new document (with `createdAt`, as a client's create writes it). */
export function documentTriples(
  collection: string,
  id: string,
  fields: Readonly<Record<string, unknown>>,
  hlc: () => string,
): Triple[] {
  const triples: Triple[] = [{ collection, id, field: "createdAt", value: Date.now(), hlc: hlc() }];
  for (const [field, value] of Object.entries(fields)) triples.push({ collection, id, field, value, hlc: hlc() });
  return triples;
}

/** A canonical, order-free form of triples, for comparing what is stored with what was written. */
export function sortedTriples(triples: readonly Triple[]): string[] {
  return triples
    .map((triple) =>
      JSON.stringify([triple.collection, triple.id, triple.field, triple.element ?? "", triple.value, triple.hlc]),
    )
    .sort();
}

/** POSTs JSON (or raw text) to the HTTP API; answers status and parsed body. */
export async function post(
  url: string,
  path: string,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? undefined : JSON.parse(text) };
}

/** POSTs a push streamed as lines (`application/x-ndjson`): the envelope, then one triple per line. */
export async function postLines(
  url: string,
  envelope: Readonly<Record<string, unknown>>,
  triples: readonly unknown[],
  headers: Readonly<Record<string, string>> = {},
): Promise<{ status: number; body: any }> {
  const lines = [JSON.stringify(envelope), ...triples.map((triple) => JSON.stringify(triple))];
  return post(url, "/v1/push", lines.join("\n"), { ...headers, "content-type": "application/x-ndjson" });
}

/** Every stored triple of a collection in an app, read over HTTP with an empty filter. */
export async function storedTriples(
  url: string,
  appId: string,
  collection: "todos" | "tags" | "notes" = "todos",
  headers: Readonly<Record<string, string>> = {},
): Promise<Triple[]> {
  const answer = await post(url, "/v1/query", { appId, query: query(collection), cursor: null }, headers);
  if (answer.status !== 200)
    throw new Error(`Query of ${appId} failed: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.triples as Triple[];
}

/** Calls the admin API (`/v1/admin/apps` + `path`) with an admin secret; answers status and parsed body. */
export async function adminCall(
  url: string,
  secret: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/v1/admin/apps${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}
