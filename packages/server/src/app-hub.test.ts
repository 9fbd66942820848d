import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Triple } from "@trellis/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AppHub } from "./app-hub.js";
import type { Peer } from "./peer.js";
import { FakePeer } from "./testing/fake-peer.js";
import { documentTriples, futureHlc, query, sortedTriples, writer } from "./testing/raw-socket.js";

let dir: string;
let hub: AppHub;
const hlc = writer("writer");
const open = query("todos", { where: { done: false } });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "trellis-app-hub-"));
  const opened = AppHub.open(dir, "hub");
  if (opened.error) throw opened.error;
  hub = opened.data;
});
afterEach(() => {
  hub.close();
  rmSync(dir, { recursive: true, force: true });
});

function peer(): FakePeer {
  const created = new FakePeer();
  hub.attach(created);
  return created;
}

async function push(from: Peer | undefined, triples: readonly Triple[]): Promise<string> {
  const pushed = await hub.push(from, triples);
  if (pushed.error) throw pushed.error;
  return pushed.data.cursor;
}

function subscribe(subscriber: FakePeer, queryId: string, normalized = open, cursor: string | null = null) {
  hub.subscribe(subscriber, queryId, normalized, cursor);
  const [snapshot, ...rest] = subscriber.take();
  expect(rest).toEqual([]);
  if (snapshot?.type !== "snapshot") throw new Error(`Expected a snapshot, got ${JSON.stringify(snapshot)}`);
  return snapshot;
}

const todo = (id: string, fields: Record<string, unknown>) => documentTriples("todos", id, fields, hlc);
const set = (id: string, field: string, value: unknown, collection = "todos"): Triple => ({
  collection,
  id,
  field,
  value,
  hlc: hlc(),
});
const ids = (triples: readonly Triple[]) => [...new Set(triples.map((triple) => triple.id))].sort();

describe("AppHub routing", () => {
  it("sends a change only to connections whose live queries it can affect", async () => {
    const subscriber = peer();
    const unrelated = peer();
    const otherCollection = peer();
    const pusher = peer();
    subscribe(subscriber, "open");
    subscribe(unrelated, "titled", query("todos", { where: { title: "something else" } }));
    subscribe(otherCollection, "notes", query("notes"));

    const t1 = todo("t1", { title: "milk", done: false });
    await push(pusher, t1);

    expect(sortedTriples(subscriber.changes())).toEqual(sortedTriples(t1));
    expect(unrelated.take()).toEqual([]);
    expect(otherCollection.take()).toEqual([]);
    expect(pusher.take()).toEqual([]);
  });

  it("sends a document entering a filtered result in full", async () => {
    const subscriber = peer();
    const pusher = peer();
    subscribe(subscriber, "open");
    const t1 = todo("t1", { title: "milk", done: true });
    await push(pusher, t1);
    expect(subscriber.take()).toEqual([]);

    const reopen = set("t1", "done", false);
    await push(pusher, [reopen]);
    const sent = subscriber.changes();
    // Every stored cell of the document, the fields that did not change in this batch included.
    expect(sortedTriples(sent)).toEqual(sortedTriples([...t1.filter((triple) => triple.field !== "done"), reopen]));
  });

  it("shows a document leaving a result, and only its changed triple", async () => {
    const subscriber = peer();
    const pusher = peer();
    await push(pusher, todo("t1", { title: "milk", done: false }));
    expect(ids(subscribe(subscriber, "open").triples)).toEqual(["t1"]);

    const close = set("t1", "done", true);
    await push(pusher, [close]);
    expect(subscriber.changes()).toEqual([close]);
  });

  it("sends a related document in full when a result starts to show it", async () => {
    const subscriber = peer();
    const pusher = peer();
    subscribe(subscriber, "with-tags", query("todos", { fields: { title: true, tags: { fields: { label: true } } } }));
    const tag = documentTriples("tags", "g1", { label: "home" }, hlc);
    await push(pusher, tag);
    expect(subscriber.take()).toEqual([]);

    const t1 = [...todo("t1", { title: "milk" }), { ...set("t1", "tags", true), element: "g1" }];
    await push(pusher, t1);
    expect(sortedTriples(subscriber.changes())).toEqual(sortedTriples([...t1, ...tag]));
  });

  it("routes a query that combines filters with or and not", async () => {
    const subscriber = peer();
    subscribe(
      subscriber,
      "combined",
      query("todos", { where: { or: [{ title: "milk" }, { done: true }], not: { title: "skip" } } }),
    );
    await push(undefined, [
      ...todo("a", { title: "milk", done: false }),
      ...todo("b", { title: "skip", done: true }),
      ...todo("c", { title: "tea", done: true }),
      ...todo("d", { title: "tea", done: false }),
    ]);
    expect(ids(subscriber.changes())).toEqual(["a", "c"]);
    // A change that only the `not` reads takes a document out.
    await push(undefined, [set("c", "title", "skip")]);
    expect(subscriber.changes()).toEqual([expect.objectContaining({ id: "c", field: "title", value: "skip" })]);
  });

  it("does not echo a pusher's own triples, but sends them to other subscribers", async () => {
    const writer1 = peer();
    const reader = peer();
    subscribe(writer1, "open");
    subscribe(reader, "open");
    const t1 = todo("t1", { title: "milk", done: false });
    await push(writer1, t1);
    expect(writer1.take()).toEqual([]);
    expect(sortedTriples(reader.changes())).toEqual(sortedTriples(t1));

    const rename = set("t1", "title", "oat milk");
    await push(writer1, [rename]);
    expect(writer1.take()).toEqual([]);
    expect(reader.changes()).toEqual([rename]);

    // The writer holds the document: what others change in it follows it.
    const renameBack = set("t1", "title", "milk");
    await push(reader, [renameBack]);
    expect(writer1.changes()).toEqual([renameBack]);
    expect(reader.take()).toEqual([]);
  });

  it("does not send a change that lost the merge", async () => {
    const subscriber = peer();
    const pusher = peer();
    subscribe(subscriber, "open");
    const stale = set("t1", "title", "stale");
    const t1 = todo("t1", { title: "milk", done: false });
    await push(pusher, t1);
    subscriber.take();
    await push(pusher, [stale]);
    expect(subscriber.take()).toEqual([]);
  });
});

describe("AppHub resume", () => {
  it("resumes from a cursor with the documents changed since, and the ones that left", async () => {
    const pusher = peer();
    await push(pusher, [
      ...todo("changed", { title: "a", done: false }),
      ...todo("leaving", { title: "b", done: false }),
      ...todo("unchanged", { title: "c", done: false }),
    ]);
    const first = peer();
    const snapshot = subscribe(first, "open");
    expect(ids(snapshot.triples)).toEqual(["changed", "leaving", "unchanged"]);
    hub.detach(first);

    const rename = set("changed", "title", "a2");
    const leave = set("leaving", "done", true);
    const added = todo("added", { title: "d", done: false });
    await push(pusher, [rename, leave, ...added]);

    const resumed = peer();
    const resume = subscribe(resumed, "open", open, snapshot.cursor);
    const changedDoc = resume.triples.filter((triple) => triple.id === "changed");
    // Entering and changed documents come whole; a document that left comes as its leaving triple.
    expect(changedDoc.map((triple) => triple.field).sort()).toEqual(["createdAt", "done", "title"]);
    expect(changedDoc.find((triple) => triple.field === "title")?.value).toBe("a2");
    expect(sortedTriples(resume.triples.filter((triple) => triple.id === "added"))).toEqual(sortedTriples(added));
    expect(resume.triples.filter((triple) => triple.id === "leaving")).toEqual([leave]);
    expect(ids(resume.triples)).toEqual(["added", "changed", "leaving"]);
    expect(Number(resume.cursor)).toBeGreaterThan(Number(snapshot.cursor));

    // From the latest cursor nothing is missing, so nothing is sent.
    const upToDate = peer();
    expect(subscribe(upToDate, "open", open, resume.cursor).triples).toEqual([]);
  });

  it("refuses a malformed cursor with an error naming the query", () => {
    const subscriber = peer();
    hub.subscribe(subscriber, "open", open, "not-a-cursor");
    expect(subscriber.take()).toEqual([
      expect.objectContaining({ type: "error", code: "PROTOCOL", details: { queryId: "open" } }),
    ]);
  });
});

describe("AppHub group commit", () => {
  it("merges the pushes of one turn in one transaction and acknowledges each", async () => {
    const subscriber = peer();
    subscribe(subscriber, "open");
    const pushers = [peer(), peer(), peer()];
    const batches = pushers.map((each, index) => todo(`t${index}`, { title: `#${index}`, done: false }));
    const before = Number(subscribe(peer(), "probe").cursor);

    const results = await Promise.all(pushers.map((each, index) => hub.push(each, batches[index]!)));

    const cursors = results.map((result) => result.data?.cursor);
    // One transaction: every batch is acknowledged with the cursor after all of them.
    expect(cursors).toEqual(Array(3).fill(String(before + batches.flat().length)));
    const messages = subscriber.take();
    expect(messages).toHaveLength(1);
    const [changes] = messages;
    expect(changes).toMatchObject({ type: "changes", cursor: cursors[0] });
    expect(sortedTriples(changes?.type === "changes" ? changes.triples : [])).toEqual(sortedTriples(batches.flat()));
  });

  it("refuses a batch with a clock far ahead and stores the others of the same turn", async () => {
    const subscriber = peer();
    subscribe(subscriber, "open");
    const good = todo("good", { title: "ok", done: false });
    const drifting = [
      ...todo("bad", { title: "no", done: false }),
      { ...set("bad", "title", "later"), hlc: futureHlc(3_600_000) },
    ];
    const [accepted, refused] = await Promise.all([hub.push(peer(), good), hub.push(peer(), drifting)]);
    expect(accepted.error).toBeUndefined();
    expect(refused.error?.code).toBe("CLOCK_DRIFT");
    expect(ids(subscriber.changes())).toEqual(["good"]);
    const all = hub.query(query("todos"), null);
    expect(ids(all.data!.triples)).toEqual(["good"]);
  });
});

describe("AppHub unsubscribe", () => {
  it("stops routing a query's changes to a connection that unsubscribed", async () => {
    const subscriber = peer();
    const pusher = peer();
    subscribe(subscriber, "open");
    await push(pusher, todo("t1", { title: "milk", done: false }));
    expect(ids(subscriber.changes())).toEqual(["t1"]);

    hub.unsubscribe(subscriber, "open");
    await push(pusher, todo("t2", { title: "eggs", done: false }));
    await push(pusher, [set("t1", "title", "oat milk")]);
    expect(subscriber.take()).toEqual([]);
  });

  it("keeps routing documents another query of the connection still shows", async () => {
    const subscriber = peer();
    const pusher = peer();
    await push(pusher, todo("t1", { title: "milk", done: false }));
    subscribe(subscriber, "open");
    subscribe(subscriber, "all", query("todos"));
    hub.unsubscribe(subscriber, "open");

    const rename = set("t1", "title", "oat milk");
    await push(pusher, [rename]);
    expect(subscriber.changes()).toEqual([rename]);
  });

  it("stops routing to a detached connection", async () => {
    const subscriber = peer();
    const pusher = peer();
    subscribe(subscriber, "open");
    hub.detach(subscriber);
    await push(pusher, todo("t1", { title: "milk", done: false }));
    expect(subscriber.take()).toEqual([]);
    expect(hub.connectionCount).toBe(1);
  });
});

describe("AppHub with a query the engine cannot evaluate", () => {
  // `notIn` on a set field with an operand that is not a list passes the shape check but throws
  // once the query meets a document; on an empty collection that is only at the next push.
  const failing = {
    ...query("todos", { where: { tags: "x" } }),
    where: [{ field: "tags", op: "notIn" as const, operand: 5 }],
  };

  it("refuses it at subscribe when documents exist", async () => {
    await push(peer(), todo("t1", { title: "milk" }));
    const subscriber = peer();
    hub.subscribe(subscriber, "failing", failing, null);
    expect(subscriber.take()).toEqual([
      expect.objectContaining({ type: "error", code: "VALIDATION", details: { queryId: "failing" } }),
    ]);
  });

  it("drops it when new data makes it fail, and keeps routing every other query", async () => {
    const failingSubscriber = peer();
    const subscriber = peer();
    const pusher = peer();
    subscribe(failingSubscriber, "failing", failing);
    subscribe(subscriber, "open");
    subscribe(subscriber, "notes", query("notes"));

    const t1 = todo("t1", { title: "milk", done: false });
    const note = documentTriples("notes", "n1", { text: "hi" }, hlc);
    await push(pusher, [...note, ...t1]);

    expect(failingSubscriber.take()).toEqual([
      expect.objectContaining({ type: "error", code: "VALIDATION", details: { queryId: "failing" } }),
    ]);
    expect(sortedTriples(subscriber.changes())).toEqual(sortedTriples([...note, ...t1]));
    expect(ids(hub.query(query("todos"), null).data!.triples)).toEqual(["t1"]);

    // Later pushes route as before, and the dropped query no longer runs.
    const t2 = todo("t2", { title: "eggs", done: false });
    await push(pusher, t2);
    expect(sortedTriples(subscriber.changes())).toEqual(sortedTriples(t2));
    expect(failingSubscriber.take()).toEqual([]);
  });
});

describe("AppHub under a query the engine cannot evaluate", () => {
  // The protocol parser refuses such queries; the hub still must not let one take the process down.
  it("stops that query with an error to its subscribers and keeps routing the others", async () => {
    const failing = {
      ...query("todos", { where: { tags: "x" } }),
      where: [{ field: "tags", op: "notIn" as const, operand: 5 }],
    };
    const subscriber = peer();
    const other = peer();
    subscribe(subscriber, "failing", failing);
    subscribe(other, "all", query("todos"));
    const t1 = todo("t1", { title: "milk" });
    await push(peer(), t1);
    expect(subscriber.take()).toEqual([
      expect.objectContaining({ type: "error", code: "VALIDATION", details: { queryId: "failing" } }),
    ]);
    expect(sortedTriples(other.changes())).toEqual(sortedTriples(t1));
    const t2 = todo("t2", { title: "bread" });
    await push(peer(), t2);
    expect(sortedTriples(other.changes())).toEqual(sortedTriples(t2));
  });
});

describe("AppHub, pushes larger than a slice", () => {
  it("routes them slice by slice, and sends a pusher the documents it wrote without holding them (a delete it missed) whatever the slice", async () => {
    const sliced = AppHub.open(dir, "sliced", { sliceTriples: 2 });
    if (sliced.error) throw sliced.error;
    const large = sliced.data;
    try {
      const watcher = new FakePeer();
      const pusher = new FakePeer();
      large.attach(watcher);
      large.attach(pusher);
      large.subscribe(watcher, "all", query("todos"), null);
      watcher.take();
      // A document deleted before the pusher (which does not hold it) writes to it.
      const gone = todo("gone", { title: "x" });
      const deleted = { collection: "todos", id: "gone", field: "$deleted", value: true, hlc: hlc() } as Triple;
      expect((await large.push(undefined, [...gone, deleted])).error).toBeUndefined();
      watcher.take();
      const batch = [...todo("n1", { title: "a" }), ...todo("n2", { title: "b" }), set("gone", "title", "too late")];
      expect((await large.push(pusher, batch)).error).toBeUndefined();
      // Each slice reaches the watcher on its own; the write that lost to the delete reaches nobody.
      const frames = watcher.take().filter((message) => message.type === "changes");
      expect(frames.length).toBeGreaterThan(1);
      expect(ids(frames.flatMap((message) => (message.type === "changes" ? message.triples : [])))).toEqual([
        "n1",
        "n2",
      ]);
      // The pusher learns the document is deleted: its tombstone, sent whole.
      expect(pusher.changes()).toEqual([deleted]);
    } finally {
      large.close();
    }
  });
});
