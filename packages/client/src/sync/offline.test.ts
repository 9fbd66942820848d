import { createSchema, t } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import { afterEach, expect, it } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { allOnline, FAST_RECONNECT, recordFrames, recorder, waitFor } from "../testing/live-server.js";

// Writes made while the server is down wait in the outbox and reach other clients once it is
// back: all of them, in the order they were made, each once. Real `trellis-server` process.

const schema = createSchema({
  entities: {
    events: { seq: t.number({ fallback: 0 }), note: t.string({ optional: true, fallback: "" }) },
  },
});
type Client = TrellisClient<typeof schema>;

const WRITES = 1_000;
// Large enough that the outbox goes out in several frames, so their order matters.
const NOTE = "n".repeat(1_500);

let server: ServerProcess | undefined;
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  if (server !== undefined) {
    await server.stop();
    removeDataDir(server.dataDir);
    server = undefined;
  }
});

function connect(url: string, options: { WebSocket?: ReturnType<typeof recordFrames>["WebSocket"] } = {}): Client {
  const client = createClient({ schema, appId: "offline", serverUrl: url, reconnect: FAST_RECONNECT, ...options });
  clients.push(client);
  return client;
}

it("delivers 1,000 writes made while the server was down to another client, in order, each once", async () => {
  server = await startServerProcess();
  // The receiver follows the events (in creation order) before the server goes down.
  const receiverFrames = recordFrames();
  const receiver = connect(server.url, { WebSocket: receiverFrames.WebSocket });
  const seen = recorder<readonly { id: string; seq: number }[]>();
  receiver.database.events.subscribe({ fields: { id: true, seq: true }, orderBy: ["seq", "asc"] }, seen.callback);
  await allOnline([receiver]);
  expect(seen.last).toEqual({ data: [], error: undefined, loading: false });

  await server.stop();
  await waitFor(() => receiver.connection.state !== "online", "the receiver notices the server is gone");

  // The writer starts while the server is down: it cannot connect, and writes to its outbox.
  const writerFrames = recordFrames();
  const writer = connect(server.url, { WebSocket: writerFrames.WebSocket });
  await waitFor(() => writer.connection.state === "offline", "the writer fails to connect");
  const ids: string[] = [];
  for (let seq = 0; seq < WRITES; seq++) {
    const created = await writer.database.events.create({ seq, note: NOTE });
    expect(created.error).toBeUndefined();
    ids.push(created.data!.id);
  }
  expect(writer.connection.pending).toBe(WRITES);
  expect(writer.connection.state).not.toBe("online");

  // The server comes back on the same port with the same data.
  await server.restart();
  await allOnline([writer, receiver], 30_000);
  await waitFor(
    () => seen.last?.data?.length === WRITES,
    () => `all writes reach the receiver; it has ${seen.last?.data?.length}`,
  );

  // All of them, each once, in order: every result the receiver saw is a prefix of the writes.
  const expected = ids.map((id, seq) => ({ id, seq }));
  expect(seen.last?.data).toEqual(expected);
  let previous = 0;
  for (const call of seen.calls) {
    const data = call.data ?? [];
    expect(data, "a result the receiver saw").toEqual(expected.slice(0, data.length));
    expect(data.length).toBeGreaterThanOrEqual(previous);
    previous = data.length;
  }
  // The outbox went out in several frames, in write order (anything sent again, after a lost
  // connection, follows what was sent before).
  const pushes = writerFrames.sentOf("push");
  expect(pushes.length).toBeGreaterThan(1);
  const pushedSeqs = pushes.flatMap((push) =>
    push.triples.filter((triple) => triple.field === "seq").map((triple) => triple.value),
  );
  expect([...new Set(pushedSeqs)]).toEqual(expected.map(({ seq }) => seq));
  // What reached the receiver came in order too, and each document in full once.
  const arrivals = receiverFrames.received
    .flatMap((message) => ("triples" in message ? message.triples : []))
    .filter((triple) => triple.field === "seq");
  expect(arrivals.map((triple) => triple.value)).toEqual(expected.map(({ seq }) => seq));

  // The server holds exactly the 1,000 events.
  const observer = connect(server.url);
  const stored = await observer.database.events.query({ fields: { id: true, seq: true }, orderBy: ["seq", "asc"] });
  expect(stored.data).toEqual(expected);
});
