/**
 * Server ingest and its floor: the same triples merged by the server (pushed over a bare sync
 * socket, timed to the last `ack`, which means durable) and by better-sqlite3 alone (batched
 * last-writer-wins upserts into the server's table layout, same batch size, same WAL and
 * `synchronous = FULL` durability). Also the raw SQLite insert rate.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Triple } from "@trellis/core";
import Database from "better-sqlite3";
import { percentile } from "../stats.js";
import { openProtocolSocket } from "./protocol-socket.js";
import type { RoundTripResult } from "./round-trip.js";
import { createHlcSource, triple } from "./schema.js";

/** The triples of one ingest phase, cut into batches (one frame or one transaction each). */
export interface IngestPhase {
  readonly name: "new cells" | "updates";
  readonly batches: readonly (readonly Triple[])[];
  readonly triples: number;
}

export interface RateResult {
  readonly triples: number;
  readonly ms: number;
  readonly perSecond: number;
}

const TAGS = Array.from({ length: 20 }, (_, i) => `tag${i}`);
const CREATED_AT_BASE = Date.UTC(2025, 0, 1);

/**
 * `docs` documents of `loads` with title, tag, priority and createdAt (4 new cells each), then a
 * new priority for each (updates of existing cells, with later HLCs).
 */
export function ingestPhases(docs: number, batchSize: number): IngestPhase[] {
  const hlc = createHlcSource("ingest");
  const created: Triple[] = [];
  const updated: Triple[] = [];
  for (let i = 0; i < docs; i++) {
    const id = `L${i.toString(36).padStart(6, "0")}`;
    const stamp = hlc();
    // As a client's `create` writes it: the fields and `createdAt`, under one clock reading.
    created.push(
      triple("loads", id, "title", `document ${i}`, stamp),
      triple("loads", id, "tag", TAGS[i % 20], stamp),
      triple("loads", id, "priority", i % 10, stamp),
      triple("loads", id, "createdAt", CREATED_AT_BASE + i, stamp),
    );
  }
  for (let i = 0; i < docs; i++) {
    const id = `L${i.toString(36).padStart(6, "0")}`;
    updated.push(triple("loads", id, "priority", (i + 1) % 10, hlc()));
  }
  const cut = (all: Triple[]) =>
    Array.from({ length: Math.ceil(all.length / batchSize) }, (_, i) => all.slice(i * batchSize, (i + 1) * batchSize));
  return [
    { name: "new cells", batches: cut(created), triples: created.length },
    { name: "updates", batches: cut(updated), triples: updated.length },
  ];
}

const rate = (triples: number, ms: number): RateResult => ({ triples, ms, perSecond: (triples / ms) * 1000 });

/**
 * Pushes each phase over one sync socket, `window` frames in flight; times each phase from its
 * first send to its last ack. Frames are serialized before the clock starts.
 */
export async function serverIngest(
  serverUrl: string,
  appId: string,
  phases: readonly IngestPhase[],
  window: number,
): Promise<RateResult[]> {
  const socket = await openProtocolSocket(serverUrl, appId, "ingester");
  try {
    const results: RateResult[] = [];
    let frameId = 0;
    for (const phase of phases) {
      const frames = phase.batches.map((triples) =>
        JSON.stringify({ type: "push", batchId: `b${frameId++}`, triples }),
      );
      const start = performance.now();
      let sent = 0;
      for (; sent < Math.min(window, frames.length); sent++) socket.sendText(frames[sent]!);
      for (let acked = 0; acked < frames.length; acked++) {
        await socket.next("ack");
        if (sent < frames.length) socket.sendText(frames[sent++]!);
      }
      results.push(rate(phase.triples, performance.now() - start));
    }
    return results;
  } finally {
    await socket.close();
  }
}

/** The server's triple table (see packages/server/src/app-database.ts), in a fresh file. */
export function openFloorDatabase(dir: string): Database.Database {
  const db = new Database(join(dir, "floor.sqlite"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(`
    CREATE TABLE triples (
      collection TEXT NOT NULL, id TEXT NOT NULL, field TEXT NOT NULL, element TEXT NOT NULL DEFAULT '',
      value TEXT NOT NULL, hlc TEXT NOT NULL, seq INTEGER NOT NULL,
      PRIMARY KEY (collection, id, field, element)
    ) WITHOUT ROWID;
    CREATE INDEX triples_by_seq ON triples (collection, seq);
  `);
  return db;
}

/**
 * The floors: better-sqlite3 merging the same batches, one transaction each, with one
 * `INSERT … ON CONFLICT DO UPDATE … WHERE excluded.hlc > hlc` per triple (last writer wins in
 * SQL), then a plain `INSERT` of the new cells into an empty table (the raw insert rate).
 */
export function sqliteFloors(phases: readonly IngestPhase[]): { upserts: RateResult[]; inserts: RateResult } {
  const dir = mkdtempSync(join(tmpdir(), "trellis-bench-sqlite-"));
  try {
    const merged = openFloorDatabase(dir);
    const upsert = merged.prepare(
      `INSERT INTO triples (collection, id, field, element, value, hlc, seq) VALUES (?, ?, ?, '', ?, ?, ?)
       ON CONFLICT (collection, id, field, element) DO UPDATE SET value = excluded.value, hlc = excluded.hlc, seq = excluded.seq
       WHERE excluded.hlc > triples.hlc`,
    );
    let seq = 0;
    const mergeBatch = merged.transaction((batch: readonly Triple[]) => {
      for (const each of batch)
        upsert.run(each.collection, each.id, each.field, JSON.stringify(each.value), each.hlc, ++seq);
    });
    const upserts = phases.map((phase) => {
      const start = performance.now();
      for (const batch of phase.batches) mergeBatch(batch);
      return rate(phase.triples, performance.now() - start);
    });
    merged.close();
    rmSync(join(dir, "floor.sqlite"), { force: true });

    const plain = openFloorDatabase(dir);
    const insert = plain.prepare(
      "INSERT INTO triples (collection, id, field, element, value, hlc, seq) VALUES (?, ?, ?, '', ?, ?, ?)",
    );
    const insertBatch = plain.transaction((batch: readonly Triple[]) => {
      for (const each of batch)
        insert.run(each.collection, each.id, each.field, JSON.stringify(each.value), each.hlc, ++seq);
    });
    const fresh = phases[0]!;
    const start = performance.now();
    for (const batch of fresh.batches) insertBatch(batch);
    const inserts = rate(fresh.triples, performance.now() - start);
    plain.close();
    return { upserts, inserts };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The floor under every acknowledged write: one triple upserted in its own transaction, durable
 * (WAL, `synchronous = FULL`: the WAL is synced at each commit), timed per commit.
 */
export function sqliteCommitLatency(count: number): RoundTripResult {
  const dir = mkdtempSync(join(tmpdir(), "trellis-bench-sqlite-"));
  try {
    const db = openFloorDatabase(dir);
    const upsert = db.prepare(
      `INSERT INTO triples (collection, id, field, element, value, hlc, seq) VALUES ('items', ?, 'n', '', ?, ?, ?)
       ON CONFLICT (collection, id, field, element) DO UPDATE SET value = excluded.value, hlc = excluded.hlc, seq = excluded.seq
       WHERE excluded.hlc > triples.hlc`,
    );
    const hlc = createHlcSource("commit");
    const commit = db.transaction((i: number) => upsert.run(`d${i % 20}`, String(i), hlc(), i));
    const times: number[] = [];
    for (let i = 0; i < count + 50; i++) {
      const start = performance.now();
      commit(i);
      if (i >= 50) times.push((performance.now() - start) * 1000);
    }
    db.close();
    return { roundTrips: count, p50Us: percentile(times, 50), p99Us: percentile(times, 99) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
