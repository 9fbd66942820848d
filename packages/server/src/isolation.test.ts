import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { Triple } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import { REGISTRY_FILE } from "./apps/app-registry.js";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import {
  closeAllSockets,
  connect,
  documentTriples,
  post,
  query,
  type RawSocket,
  sortedTriples,
  storedTriples,
  writer,
} from "./testing/raw-socket.js";

let server: ServerProcess;
const hlc = writer("isolation");
/** The same document ids in both apps, with different contents. */
const seed = {
  alpha: [
    ...documentTriples("todos", "t1", { title: "alpha one", done: false }, hlc),
    ...documentTriples("todos", "t2", { title: "alpha two", done: true }, hlc),
  ],
  beta: [
    ...documentTriples("todos", "t1", { title: "beta one", done: false }, hlc),
    ...documentTriples("todos", "t2", { title: "beta two", done: true }, hlc),
  ],
};
const open = query("todos", { where: { done: false } });

beforeAll(async () => {
  server = await startServerProcess();
  for (const appId of ["alpha", "beta"] as const) {
    const socket = await connect(server.url, appId);
    socket.send({ type: "push", batchId: "seed", triples: seed[appId] });
    await socket.next("ack");
    await socket.close();
  }
});
afterEach(() => closeAllSockets());
afterAll(async () => {
  await server.stop();
  removeDataDir(server.dataDir);
});

async function subscribed(
  appId: string,
  queryId = "open",
  normalized = open,
): Promise<RawSocket & { snapshot: Triple[] }> {
  const socket = await connect(server.url, appId);
  socket.send({ type: "subscribe", queryId, query: normalized, cursor: null });
  const snapshot = await socket.next("snapshot");
  return Object.assign(socket, { snapshot: [...snapshot.triples] });
}

const titles = (triples: readonly Triple[]) =>
  triples
    .filter((triple) => triple.field === "title")
    .map((triple) => triple.value)
    .sort();

it("answers WebSocket subscriptions with the app's own data only", async () => {
  const alpha = await subscribed("alpha", "all", query("todos"));
  const beta = await subscribed("beta", "all", query("todos"));
  expect(sortedTriples(alpha.snapshot)).toEqual(sortedTriples(seed.alpha));
  expect(sortedTriples(beta.snapshot)).toEqual(sortedTriples(seed.beta));
  expect(titles((await subscribed("gamma", "all", query("todos"))).snapshot)).toEqual([]);
});

it("answers HTTP queries and preloads with the app's own data only", async () => {
  expect(sortedTriples(await storedTriples(server.url, "alpha"))).toEqual(sortedTriples(seed.alpha));
  expect(sortedTriples(await storedTriples(server.url, "beta"))).toEqual(sortedTriples(seed.beta));
  const preload = await post(server.url, "/v1/query", { appId: "beta", query: open, cursor: null });
  expect(titles(preload.body.triples)).toEqual(["beta one"]);
  // Resuming from a cursor (what a preloaded client does) reads only that app's changes.
  const resumed = await post(server.url, "/v1/query", { appId: "beta", query: open, cursor: "0" });
  expect(titles(resumed.body.triples)).toEqual(["beta one", "beta two"]);
  const alphaCursor = (await post(server.url, "/v1/query", { appId: "alpha", query: open, cursor: null })).body
    .cursor as string;
  expect(
    titles((await post(server.url, "/v1/query", { appId: "gamma", query: open, cursor: alphaCursor })).body.triples),
  ).toEqual([]);
});

it("never sends changes pushed in one app to a subscriber of another with the same query and ids", async () => {
  const alphaReader = await subscribed("alpha");
  const betaReader = await subscribed("beta");
  expect(titles(betaReader.snapshot)).toEqual(["beta one"]);

  // Over the WebSocket: an update of a document both apps have, and a document entering the result.
  const writerSocket = await connect(server.url, "alpha");
  const rename: Triple = { collection: "todos", id: "t1", field: "title", value: "alpha renamed", hlc: hlc() };
  const reopen: Triple = { collection: "todos", id: "t2", field: "done", value: false, hlc: hlc() };
  writerSocket.send({ type: "push", batchId: "ws", triples: [rename, reopen] });
  await writerSocket.next("ack");
  const seen = await alphaReader.next("changes");
  expect(titles(seen.triples)).toEqual(["alpha renamed", "alpha two"]);

  // Over HTTP.
  const added = documentTriples("todos", "t3", { title: "alpha three", done: false }, hlc);
  const pushed = await post(server.url, "/v1/push", {
    appId: "alpha",
    clientId: "http",
    batchId: "http",
    triples: added,
  });
  expect(pushed.status).toBe(200);
  expect(titles((await alphaReader.next("changes")).triples)).toEqual(["alpha three"]);

  // Everything alpha's subscriber got was sent before its answers; beta's subscriber got nothing.
  await betaReader.sync();
  expect(betaReader.pending()).toEqual([]);
  expect(sortedTriples(await storedTriples(server.url, "beta"))).toEqual(sortedTriples(seed.beta));
  expect(titles(await storedTriples(server.url, "alpha"))).toEqual(["alpha renamed", "alpha three", "alpha two"]);
});

it("keeps each app in its own SQLite file under the data folder", () => {
  const files = readdirSync(server.dataDir).filter((file) => file.endsWith(".sqlite") && file !== REGISTRY_FILE);
  expect(files.sort()).toEqual(["alpha.sqlite", "beta.sqlite", "gamma.sqlite"]);
  for (const appId of ["alpha", "beta"]) {
    const db = new Database(join(server.dataDir, `${appId}.sqlite`), { readonly: true });
    try {
      const rows = db.prepare("SELECT value FROM triples WHERE field = 'title'").all() as Array<{ value: string }>;
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) expect(JSON.parse(row.value)).toMatch(new RegExp(`^${appId} `));
    } finally {
      db.close();
    }
  }
});
