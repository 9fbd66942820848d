import {
  type DatabaseError,
  type DatabaseResult,
  encodeHlc,
  fail,
  jsonShape,
  MAX_CONTAINERS,
  ok,
  type PushMessage,
  type Triple,
} from "@trellis/core";
import { describe, expect, it } from "vitest";
import { createMemoryOutbox, type OutboxEntry } from "./outbox.js";
import { OutboxPusher } from "./outbox-pusher.js";

const HLC = encodeHlc({ ticks: 1, node: "me" });
const tripleOf = (id: string, value: unknown = id): Triple => ({
  collection: "users",
  id,
  field: "name",
  value,
  hlc: HLC,
});
const entry = (batchId: string, value?: unknown): OutboxEntry => ({ batchId, triples: [tripleOf(batchId, value)] });
const KiB = 1024;

function setup() {
  const outbox = createMemoryOutbox();
  const frames: PushMessage[] = [];
  const log: string[] = [];
  const refused: DatabaseError[] = [];
  const refusedEntries: string[][] = [];
  const http: Array<{ entry: OutboxEntry; answer: (result: DatabaseResult<void>) => void }> = [];
  let isConnected = true;
  let networkFailures = 0;
  const pusher = new OutboxPusher({
    outbox,
    isConnected: () => isConnected,
    send: (message) => {
      if (!isConnected) return false;
      frames.push(message);
      log.push(`frame ${message.batchId}`);
      return true;
    },
    pushOverHttp: (entry) =>
      new Promise((resolve) => {
        log.push(`http ${entry.batchId}`);
        http.push({ entry, answer: resolve });
      }),
    onRemoved: () => log.push(`size ${outbox.size}`),
    onRefused: (error, entries) => {
      refused.push(error);
      refusedEntries.push(entries.map((each) => each.batchId));
    },
    onNetworkFailure: () => networkFailures++,
  });
  const ids = () => outbox.entries().map((each) => each.batchId);
  return {
    refusedEntries,
    outbox,
    pusher,
    frames,
    log,
    refused,
    http,
    ids,
    setConnected: (value: boolean) => (isConnected = value),
    networkFailures: () => networkFailures,
  };
}

describe("OutboxPusher", () => {
  it("sends the unsent entries in order in one frame named by the last, and its ack removes them all", () => {
    const { outbox, pusher, frames, ids } = setup();
    outbox.add(entry("a"));
    outbox.add(entry("b"));
    pusher.flush();
    outbox.add(entry("c"));
    pusher.flush();
    expect(frames).toEqual([
      { type: "push", batchId: "b", triples: [tripleOf("a"), tripleOf("b")] },
      { type: "push", batchId: "c", triples: [tripleOf("c")] },
    ]);
    pusher.acknowledge("b");
    expect(ids()).toEqual(["c"]);
    pusher.acknowledge("c");
    expect(ids()).toEqual([]);
  });

  it("keeps frames under the frame limit", () => {
    const { outbox, pusher, frames } = setup();
    for (const id of ["a", "b", "c", "d", "e"]) outbox.add(entry(id, "x".repeat(300 * KiB)));
    pusher.flush();
    expect(frames.map((frame) => frame.batchId)).toEqual(["c", "e"]);
    for (const frame of frames) expect(new TextEncoder().encode(JSON.stringify(frame)).length).toBeLessThan(1024 * KiB);
  });

  it("keeps frames under the server's count of arrays and objects, and sends an entry with more over HTTP", () => {
    const { outbox, pusher, frames, log } = setup();
    // 12,000 small objects each (12,001 with the triple): two fit in a frame, not three.
    const points = (count: number) => Array.from({ length: count }, (_, index) => ({ x: index }));
    for (const id of ["a", "b", "c"]) outbox.add(entry(id, points(12_000)));
    // Two writes of 20,000 in one batch: over a frame's count, each line of an HTTP push within it.
    outbox.add({
      batchId: "many",
      triples: [tripleOf("many", points(20_000)), { ...tripleOf("many", points(20_000)), field: "other" }],
    });
    pusher.flush();
    expect(frames.map((frame) => frame.batchId)).toEqual(["b", "c"]);
    for (const frame of frames) expect(jsonShape(JSON.stringify(frame)).containers).toBeLessThanOrEqual(MAX_CONTAINERS);
    pusher.acknowledge("b");
    pusher.acknowledge("c");
    expect(log.slice(-1)).toEqual(["http many"]);
  });

  it("counts UTF-8 bytes, not characters, against the limit", () => {
    const { outbox, pusher, frames } = setup();
    for (const id of ["a", "b"]) outbox.add(entry(id, "é".repeat(200 * KiB))); // 400 KiB each
    outbox.add(entry("c", "😀".repeat(60 * KiB))); // 240 KiB
    pusher.flush();
    expect(frames.map((frame) => frame.batchId)).toEqual(["b", "c"]);
  });

  it("pushes an entry over 512 KiB over HTTP, after what goes before it is stored and before what comes after it", async () => {
    const { outbox, pusher, log, http, ids } = setup();
    outbox.add(entry("a"));
    outbox.add(entry("big", "x".repeat(600 * KiB)));
    outbox.add(entry("c"));
    pusher.flush();
    // HTTP may overtake the socket, so "big" waits for "a" to be acknowledged, and "c" for "big".
    expect(log).toEqual(["frame a"]);
    pusher.flush();
    expect(log).toEqual(["frame a"]);
    pusher.acknowledge("a");
    expect(log).toEqual(["frame a", "size 2", "http big"]);
    outbox.add(entry("d"));
    pusher.flush();
    expect(log).toHaveLength(3);
    http[0]!.answer(ok(undefined));
    await Promise.resolve();
    expect(log).toEqual(["frame a", "size 2", "http big", "size 2", "frame d"]);
    expect(ids()).toEqual(["c", "d"]);
  });

  it("pushes nothing over HTTP without a connection", () => {
    const { outbox, pusher, log, setConnected } = setup();
    setConnected(false);
    outbox.add(entry("big", "x".repeat(600 * KiB)));
    pusher.flush();
    expect(log).toEqual([]);
    setConnected(true);
    pusher.flush();
    expect(log).toEqual(["http big"]);
  });

  it("sends nothing twice on one connection, and everything unacknowledged again after a reset", () => {
    const { outbox, pusher, frames } = setup();
    outbox.add(entry("a"));
    outbox.add(entry("b"));
    pusher.flush();
    pusher.flush();
    expect(frames).toHaveLength(1);
    pusher.reset();
    pusher.flush();
    expect(frames.map((frame) => frame.batchId)).toEqual(["b", "b"]);
    pusher.acknowledge("b");
    expect(outbox.size).toBe(0);
  });

  it("sends nothing without a connection", () => {
    const { outbox, pusher, frames, setConnected } = setup();
    setConnected(false);
    outbox.add(entry("a"));
    pusher.flush();
    setConnected(true);
    pusher.flush();
    expect(frames.map((frame) => frame.batchId)).toEqual(["a"]);
  });

  it("sends the entries of a refused frame of several again, each alone; drops and reports the one refused alone", () => {
    const { outbox, pusher, frames, refused, refusedEntries, ids } = setup();
    outbox.add(entry("a"));
    outbox.add(entry("b"));
    pusher.flush();
    outbox.add(entry("c"));
    pusher.flush();
    expect(frames.map((frame) => frame.batchId)).toEqual(["b", "c"]);
    const error = fail("UNAUTHORIZED", "not yours", { batchId: "b" }).error;
    // The server stored nothing of frame b (a and b): both go again, one per frame.
    pusher.refuse("b", error);
    expect(frames.map((frame) => frame.batchId)).toEqual(["b", "c", "a", "b"]);
    expect(refused).toEqual([]);
    pusher.acknowledge("a");
    pusher.refuse("b", error);
    pusher.acknowledge("c");
    expect(ids()).toEqual([]);
    expect(refused).toEqual([error]);
    expect(refusedEntries).toEqual([["b"]]);
    // A frame refused alone is dropped: later entries still go.
    outbox.add(entry("d"));
    outbox.add(entry("e"));
    pusher.flush();
    pusher.refuse("e", fail("CLOCK_DRIFT", "too far ahead", { batchId: "e" }).error);
    pusher.refuse("d", fail("CLOCK_DRIFT", "too far ahead", { batchId: "d" }).error);
    expect(refusedEntries).toEqual([["b"], ["d"]]);
    expect(ids()).toEqual(["e"]);
  });

  it("keeps entries the server failed to store (STORAGE, INTERNAL) and asks for a reconnect to send them again", async () => {
    const { outbox, pusher, http, refused, ids, networkFailures } = setup();
    outbox.add(entry("a"));
    pusher.flush();
    pusher.refuse("a", fail("STORAGE", "disk full", { batchId: "a" }).error);
    expect(ids()).toEqual(["a"]);
    expect(networkFailures()).toBe(1);
    pusher.reset();
    pusher.flush();
    pusher.refuse("a", fail("INTERNAL", "bug", { batchId: "a" }).error);
    expect(ids()).toEqual(["a"]);
    outbox.add(entry("big", "x".repeat(600 * KiB)));
    pusher.reset();
    pusher.flush();
    pusher.acknowledge("a");
    expect(http.map(({ entry }) => entry.batchId)).toEqual(["big"]);
    http[0]!.answer(fail("STORAGE", "disk full"));
    await Promise.resolve();
    expect(ids()).toEqual(["big"]);
    expect(networkFailures()).toBe(3);
    expect(refused.map((error) => error.code)).toEqual(["STORAGE", "INTERNAL", "STORAGE"]);
  });

  it("asks for a reconnect when an HTTP push gets no answer, and drops an entry the server refused", async () => {
    const { outbox, pusher, http, refused, ids, networkFailures } = setup();
    outbox.add(entry("big1", "x".repeat(600 * KiB)));
    outbox.add(entry("big2", "y".repeat(600 * KiB)));
    pusher.flush();
    expect(http.map(({ entry }) => entry.batchId)).toEqual(["big1"]);
    http[0]!.answer(fail("VALIDATION", "no"));
    await Promise.resolve();
    expect(http.map(({ entry }) => entry.batchId)).toEqual(["big1", "big2"]);
    http[1]!.answer(fail("NETWORK", "connection refused"));
    await Promise.resolve();
    expect(networkFailures()).toBe(1);
    expect(ids()).toEqual(["big2"]);
    expect(refused.map((error) => error.code)).toEqual(["VALIDATION"]);
    // A failure on a connection that has ended since asks for nothing more.
    pusher.reset();
    pusher.flush();
    pusher.reset();
    http[2]!.answer(fail("NETWORK", "again"));
    await Promise.resolve();
    await Promise.resolve();
    expect(networkFailures()).toBe(1);
  });
});
