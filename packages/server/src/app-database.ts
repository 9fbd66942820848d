import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { type DatabaseResult, DELETED_FIELD, fail, ok, type Triple } from "@trellis/core";

const APP_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** What a batch of pushed triples did. */
export interface ApplyResult {
  /** The triples that won and were stored, in order. */
  readonly applied: readonly Triple[];
  /** The database's change cursor after the batch. */
  readonly cursor: string;
}

/** Changes after a cursor, oldest first, and the cursor that continues after them. */
export interface ChangeBatch {
  readonly triples: Triple[];
  readonly cursor: string;
}

interface Row {
  collection: string;
  id: string;
  field: string;
  element: string;
  value: string;
  hlc: string;
  seq: number;
}

/**
 * One app's durable triple log: a SQLite file per app id, schema-agnostic. Every stored cell
 * carries its HLC and a server change number (`seq`), so "what changed since cursor X in these
 * collections" is an index range scan and cursors never depend on client clocks. Writes merge
 * with the core rules (last writer wins per cell by HLC, delete wins), in one transaction per
 * batch; WAL with `synchronous = FULL` makes a committed batch durable before it is acknowledged
 * (see docs/design/008).
 */
export class AppDatabase {
  private seq: number;
  private readonly statements;

  private constructor(private readonly db: Database.Database) {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.exec(`
      CREATE TABLE IF NOT EXISTS triples (
        collection TEXT NOT NULL,
        id TEXT NOT NULL,
        field TEXT NOT NULL,
        element TEXT NOT NULL DEFAULT '',
        value TEXT NOT NULL,
        hlc TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (collection, id, field, element)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS triples_by_seq ON triples (collection, seq);
    `);
    this.statements = {
      cell: db.prepare<[string, string, string, string], { value: string; hlc: string }>(
        "SELECT value, hlc FROM triples WHERE collection = ? AND id = ? AND field = ? AND element = ?",
      ),
      upsert: db.prepare(
        `INSERT INTO triples (collection, id, field, element, value, hlc, seq) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (collection, id, field, element) DO UPDATE SET value = excluded.value, hlc = excluded.hlc, seq = excluded.seq`,
      ),
      // The common case of a merge in one statement: a new cell, or a later HLC than the stored one.
      upsertIfLater: db.prepare(
        `INSERT INTO triples (collection, id, field, element, value, hlc, seq) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (collection, id, field, element) DO UPDATE SET value = excluded.value, hlc = excluded.hlc, seq = excluded.seq
         WHERE excluded.hlc > triples.hlc`,
      ),
      clearEntity: db.prepare("DELETE FROM triples WHERE collection = ? AND id = ? AND field <> ?"),
      maxSeq: db.prepare<[], { seq: number | null }>("SELECT MAX(seq) AS seq FROM triples"),
      since: db.prepare<[number, number], Row>("SELECT * FROM triples WHERE seq > ? ORDER BY seq LIMIT ?"),
      collectionSince: db.prepare<[string, number], Row>("SELECT * FROM triples WHERE collection = ? AND seq > ? ORDER BY seq"),
      document: db.prepare<[string, string], Row>("SELECT * FROM triples WHERE collection = ? AND id = ?"),
      all: db.prepare<[], Row>("SELECT * FROM triples"),
    };
    this.seq = this.statements.maxSeq.get()?.seq ?? 0;
  }

  /**
   * Opens (creating if needed) the database of an app under `dataDir`. App ids are checked so no
   * id can name a file outside `dataDir`.
   */
  static open(dataDir: string, appId: string): DatabaseResult<AppDatabase> {
    if (!APP_ID_PATTERN.test(appId)) {
      return fail("VALIDATION", `App id ${JSON.stringify(appId)} must be 1-64 characters of [A-Za-z0-9_-].`);
    }
    try {
      if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true });
      return ok(new AppDatabase(new Database(join(dataDir, `${appId}.sqlite`))));
    } catch (error) {
      return fail("STORAGE", `Could not open the database of app "${appId}" in ${dataDir}: ${(error as Error).message}`);
    }
  }

  /** Merges a batch of triples in one durable transaction. */
  apply(triples: readonly Triple[]): ApplyResult {
    const applied = this.db.transaction((batch: readonly Triple[]) => {
      // Each document's tombstone is read once per batch (a document's fields usually come
      // together); a delete applied in the batch updates its entry.
      const tombstones = new Map<string, string | null>();
      return batch.filter((triple) => this.applyOne(triple, tombstones));
    })(triples);
    return { applied, cursor: String(this.seq) };
  }

  /** Stored cells changed after `cursor` (null: from the start), oldest first, at most `limit`. */
  changesSince(cursor: string | null, limit = 10_000): DatabaseResult<ChangeBatch> {
    const after = cursor === null ? 0 : Number(cursor);
    if (!Number.isSafeInteger(after) || after < 0) return fail("PROTOCOL", `Malformed cursor ${JSON.stringify(cursor)}.`);
    const rows = this.statements.since.all(after, limit);
    const triples = rows.map(toTriple);
    const last = rows.at(-1)?.seq ?? after;
    return ok({ triples, cursor: String(last) });
  }

  /** Stored cells of `collection` changed after `cursor` (a valid cursor), oldest first. */
  collectionChangesSince(collection: string, cursor: string): Triple[] {
    return this.statements.collectionSince.all(collection, Number(cursor)).map(toTriple);
  }

  /**
   * Every stored cell of one document, and whether any changed after `cursor` (null: it counts
   * as changed). A deleted document is its tombstone alone.
   */
  document(collection: string, id: string, cursor: string | null = null): { triples: Triple[]; changed: boolean } {
    const rows = this.statements.document.all(collection, id);
    const after = cursor === null ? -1 : Number(cursor);
    return { triples: rows.map(toTriple), changed: rows.some((row) => row.seq > after) };
  }

  /** Every stored cell, for loading the in-memory replica at start. */
  *allTriples(): IterableIterator<Triple> {
    for (const row of this.statements.all.iterate()) yield toTriple(row);
  }

  /** Whether `cursor` is one this database could have issued. */
  static isCursor(cursor: string): boolean {
    const value = Number(cursor);
    return /^\d{1,15}$/.test(cursor) && Number.isSafeInteger(value);
  }

  /** The cursor of the latest stored change. */
  get cursor(): string {
    return String(this.seq);
  }

  close(): void {
    this.db.close();
  }

  /** `tombstones`: the HLC of each document's tombstone (null: none) read so far in this batch. */
  private applyOne(triple: Triple, tombstones: Map<string, string | null>): boolean {
    const { collection, id, field } = triple;
    const element = triple.element ?? "";
    const documentKey = `${collection}\u0000${id}`;
    let tombstone = tombstones.get(documentKey);
    if (tombstone === undefined) {
      tombstone = this.statements.cell.get(collection, id, DELETED_FIELD, "")?.hlc ?? null;
      tombstones.set(documentKey, tombstone);
    }
    if (field === DELETED_FIELD) {
      // Delete wins; of several deletes the earliest HLC is kept, as in the client store.
      if (tombstone !== null && tombstone <= triple.hlc) return false;
      this.statements.clearEntity.run(collection, id, DELETED_FIELD);
      this.statements.upsert.run(collection, id, field, "", "true", triple.hlc, ++this.seq);
      tombstones.set(documentKey, triple.hlc);
      return true;
    }
    if (tombstone !== null) return false;
    const value = JSON.stringify(triple.value ?? null);
    // Encoded HLCs are ASCII and sort as the clocks do, so SQLite's and JavaScript's string
    // comparisons of them agree: comparing strings is comparing clocks.
    if (this.statements.upsertIfLater.run(collection, id, field, element, value, triple.hlc, this.seq + 1).changes > 0) {
      this.seq++;
      return true;
    }
    // The stored cell is as late or later. An equal HLC with a different value (never from a
    // correct client) is settled by the larger JSON, in JavaScript's string order.
    const current = this.statements.cell.get(collection, id, field, element)!;
    if (triple.hlc !== current.hlc || value <= current.value) return false;
    this.statements.upsert.run(collection, id, field, element, value, triple.hlc, ++this.seq);
    return true;
  }
}

function toTriple(row: Row): Triple {
  const base = { collection: row.collection, id: row.id, field: row.field, value: JSON.parse(row.value) as unknown, hlc: row.hlc };
  return row.element === "" ? base : { ...base, element: row.element };
}
