import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClock, encodeHlc, type Hlc, TripleStore, type Triple } from "@trellis/core";
import { afterEach, describe, expect, it } from "vitest";
import { AppDatabase } from "./app-database.js";

const dirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "trellis-app-db-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const at = (ticks: number, node = "a"): string => encodeHlc({ ticks, node } satisfies Hlc);
const set = (id: string, field: string, value: unknown, hlc: string): Triple => ({
  collection: "todos",
  id,
  field,
  value,
  hlc,
});

function open(dir = dataDir(), appId = "app"): AppDatabase {
  const opened = AppDatabase.open(dir, appId);
  if (opened.error) throw opened.error;
  return opened.data;
}

function stored(db: AppDatabase): Triple[] {
  return db.changesSince(null).data!.triples;
}

describe("AppDatabase", () => {
  it("keeps the last writer per cell and acknowledges with a growing cursor", () => {
    const db = open();
    expect(db.apply([set("t1", "title", "a", at(10)), set("t1", "done", false, at(10))])).toMatchObject({
      applied: { length: 2 },
      cursor: "2",
    });
    expect(db.apply([set("t1", "title", "old", at(5)), set("t1", "title", "b", at(20))])).toMatchObject({
      applied: [{ value: "b" }],
      cursor: "3",
    });
    expect(stored(db).map((t) => [t.field, t.value])).toEqual([
      ["done", false],
      ["title", "b"],
    ]);
    db.close();
  });

  it("ignores re-sent triples, so pushing an outbox twice is harmless", () => {
    const db = open();
    const batch = [set("t1", "title", "a", at(10)), { ...set("t1", "tags", true, at(10)), element: "x" }];
    db.apply(batch);
    expect(db.apply(batch)).toEqual({ applied: [], cursor: "2" });
    db.close();
  });

  it("lets delete win over earlier and later writes", () => {
    const db = open();
    db.apply([
      set("t1", "title", "a", at(10)),
      { collection: "todos", id: "t1", field: "$deleted", value: true, hlc: at(20) },
    ]);
    expect(db.apply([set("t1", "title", "later", at(30))]).applied).toEqual([]);
    expect(stored(db)).toEqual([{ collection: "todos", id: "t1", field: "$deleted", value: true, hlc: at(20) }]);
    db.close();
  });

  it("stores refMany elements as separate registers", () => {
    const db = open();
    db.apply([
      { ...set("p1", "tagIds", true, at(10, "a")), element: "red" },
      { ...set("p1", "tagIds", true, at(11, "b")), element: "blue" },
    ]);
    db.apply([{ ...set("p1", "tagIds", false, at(12, "a")), element: "red" }]);
    expect(stored(db).map((t) => [t.element, t.value])).toEqual([
      ["blue", true],
      ["red", false],
    ]);
    db.close();
  });

  it("converges with the client store's merge on the same random change set", () => {
    const clocks = ["a", "b", "c"].map((node) => createClock({ node, wallClock: () => 1_000 }));
    const triples: Triple[] = [];
    for (let i = 0; i < 400; i++) {
      const clock = clocks[i % 3]!;
      const id = `d${i % 7}`;
      const hlc = encodeHlc(clock.now());
      if (i % 37 === 0) triples.push({ collection: "todos", id, field: "$deleted", value: true, hlc });
      else if (i % 5 === 0)
        triples.push({ collection: "todos", id, field: "tags", element: `e${i % 4}`, value: i % 2 === 0, hlc });
      else triples.push(set(id, `f${i % 3}`, i % 11 === 0 ? null : i, hlc));
    }
    const shuffled = [...triples].sort(
      (x, y) => (x.hlc.charCodeAt(12) ^ 7) - (y.hlc.charCodeAt(12) ^ 7) || x.id.localeCompare(y.id),
    );
    const db = open();
    for (let i = 0; i < shuffled.length; i += 50) db.apply(shuffled.slice(i, i + 50));
    const store = new TripleStore();
    for (const triple of triples) store.applyTriple(triple);
    const key = (t: Triple) => `${t.id}|${t.field}|${t.element ?? ""}|${JSON.stringify(t.value)}|${t.hlc}`;
    expect(stored(db).map(key).sort()).toEqual([...store.triples()].map(key).sort());
    db.close();
  });

  it("serves changes after a cursor, and keeps data and cursor across reopening", () => {
    const dir = dataDir();
    const db = open(dir);
    const { cursor } = db.apply([set("t1", "title", "a", at(10))]);
    db.apply([set("t2", "title", "b", at(11))]);
    db.close();
    const reopened = open(dir);
    expect(reopened.changesSince(cursor).data!.triples.map((t) => t.id)).toEqual(["t2"]);
    expect(reopened.apply([set("t3", "title", "c", at(12))]).cursor).toBe("3");
    expect(reopened.changesSince("x").error?.code).toBe("PROTOCOL");
    reopened.close();
  });

  it("refuses app ids that could name files outside the data directory", () => {
    const dir = dataDir();
    for (const appId of ["", "../evil", "a/b", "x".repeat(65), "a.sqlite"]) {
      expect(AppDatabase.open(dir, appId).error?.code).toBe("VALIDATION");
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});
