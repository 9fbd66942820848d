import type { Triple } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  closeAllSockets,
  connect,
  documentTriples,
  sortedTriples,
  storedTriples,
  writer,
} from "./testing/raw-socket.js";

const ROUNDS = 20;
const BATCHES = 5;
const DOCS_PER_BATCH = 3;
const APP = "durable";

let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  await closeAllSockets();
  await server.stop();
  removeDataDir(server.dataDir);
});

it(`keeps every acknowledged write when the server is killed right after the ack (${ROUNDS} rounds)`, async () => {
  const hlc = writer("durability");
  const acknowledged: Triple[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const socket = await connect(server.url, APP);
    const batches = new Map<string, Triple[]>();
    for (let batch = 0; batch < BATCHES; batch++) {
      const triples: Triple[] = [];
      for (let doc = 0; doc < DOCS_PER_BATCH; doc++) {
        const id = `r${round}-b${batch}-d${doc}`;
        triples.push(...documentTriples("todos", id, { title: id, done: doc % 2 === 0 }, hlc));
      }
      const batchId = `r${round}-b${batch}`;
      batches.set(batchId, triples);
      socket.send({ type: "push", batchId, triples });
    }
    // Kill at the first ack, with later batches possibly still in flight.
    await socket.next("ack");
    await server.kill();
    await socket.closed;
    // Every ack that reached the client before the crash counts, the first and any later ones.
    const acks = [
      `r${round}-b0`,
      ...socket.pending().flatMap((message) => (message.type === "ack" ? [message.batchId] : [])),
    ];
    for (const batchId of acks) acknowledged.push(...batches.get(batchId)!);

    await server.restart();
    const stored = new Set(sortedTriples(await storedTriples(server.url, APP)));
    const missing = sortedTriples(acknowledged).filter((triple) => !stored.has(triple));
    expect(missing, `round ${round}: acknowledged but lost after SIGKILL`).toEqual([]);
  }
  expect(acknowledged.length).toBeGreaterThanOrEqual(ROUNDS * DOCS_PER_BATCH * 3);
});
