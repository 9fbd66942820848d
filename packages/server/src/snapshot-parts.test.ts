import type { Triple } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess, tempDataDir } from "@trellis/server/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snapshotParts } from "./snapshot-parts.js";
import { closeAllSockets, connect, documentTriples, nextId, query, writer } from "./testing/raw-socket.js";

// A large first answer goes in parts of whole documents, each saying how many of the total were
// sent, so a client can show progress; its `snapshot` ends it with the rest and the cursor.

const hlc = writer("parts");
const triplesOf = (count: number, fields = 3) =>
  Array.from({ length: count }, (_, index) =>
    documentTriples(
      "todos",
      `t${index}`,
      Object.fromEntries(Array.from({ length: fields - 1 }, (_, n) => [`f${n}`, n])),
      hlc,
    ),
  ).flat();

describe("snapshotParts", () => {
  it("cuts at document ends once a part has enough triples, and keeps the rest for the last part", () => {
    const triples = triplesOf(10); // 3 triples each
    const parts = snapshotParts(triples, 7);
    expect(parts.map((part) => [part.triples.length, part.documents])).toEqual([
      [9, 3],
      [9, 3],
      [9, 3],
      [3, 1],
    ]);
    expect(parts.flatMap((part) => part.triples)).toEqual(triples);
    expect(snapshotParts(triples, 100)).toEqual([{ triples, documents: 10 }]);
    expect(snapshotParts([], 100)).toEqual([{ triples: [], documents: 0 }]);
    // A part never ends inside a document, even when one document is larger than a part.
    const big: Triple[] = triplesOf(2, 12);
    expect(snapshotParts(big, 5).map((part) => part.documents)).toEqual([1, 1]);
  });
});

describe("a large snapshot over the wire", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess({ dataDir: tempDataDir(), args: ["--limit", "snapshotPartTriples=300"] });
  });
  afterAll(async () => {
    await closeAllSockets();
    await server.stop();
    removeDataDir(server.dataDir);
  });

  it("arrives as parts with their progress, then the snapshot with the rest and the cursor", async () => {
    const app = `parts-${nextId("app")}`;
    const author = await connect(server.url, app, { userId: "alice" });
    const batchId = nextId("batch");
    author.send({ type: "push", batchId, triples: triplesOf(1_000) });
    await author.next("ack");
    const reader = await connect(server.url, app, { userId: "bob" });
    reader.send({ type: "subscribe", queryId: "all", query: query("todos"), cursor: null });
    const parts = [];
    let message = await reader.next(["snapshotPart", "snapshot"]);
    while (message.type === "snapshotPart") {
      parts.push(message);
      message = await reader.next(["snapshotPart", "snapshot"]);
    }
    expect(message).toMatchObject({ type: "snapshot", queryId: "all", cursor: expect.any(String) });
    expect(parts.length).toBeGreaterThan(5);
    expect(parts.every((part) => part.queryId === "all" && part.total === 1_000)).toBe(true);
    const counts = parts.map((part) => part.documents);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    const ids = new Set([...parts.flatMap((part) => part.triples), ...message.triples].map((triple) => triple.id));
    expect(ids.size).toBe(1_000);
    // A small answer is one snapshot, as before.
    reader.send({ type: "subscribe", queryId: "few", query: query("todos", { where: { id: "t1" } }), cursor: null });
    expect(await reader.next(["snapshotPart", "snapshot"])).toMatchObject({ type: "snapshot", queryId: "few" });
  });
});
