import { existsSync, mkdirSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import {
  CREATED_BY_FIELD,
  type DatabaseResult,
  DELETED_FIELD,
  exceedsValueDepth,
  fail,
  ID_RULE,
  isId,
  ok,
  type Triple,
} from "@trellis/core";

/** What a batch of pushed triples did. */
export interface ApplyResult {
  /** The triples that won and were stored, in order. */
  readonly applied: readonly Triple[];
  /** The database's change cursor after the batch. */
  readonly cursor: string;
}

/** What each of several batches committed together did: its stored triples, or why it stored none. */
export interface ApplyBatchesResult {
  /** One entry per batch, in order: the triples that won and were stored, or the batch's error. */
  readonly outcomes: ReadonlyArray<DatabaseResult<readonly Triple[]>>;
  /** The database's change cursor after the commit. */
  readonly cursor: string;
}

/** A batch that cannot be stored as pushed; thrown inside its savepoint, so none of it is kept. */
class Refusal extends Error {
  constructor(readonly error: ReturnType<typeof fail>["error"]) {
    super(error.message);
  }
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
  private readonly isCheckpointedElsewhere: boolean;

  private constructor(
    private readonly db: Database.Database,
    isCheckpointedElsewhere: boolean,
  ) {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    // Another connection (see Checkpointer) copies the log into the database, off this thread.
    this.isCheckpointedElsewhere = isCheckpointedElsewhere;
    if (isCheckpointedElsewhere) db.pragma("wal_autocheckpoint = 0");
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
      collectionSince: db.prepare<[string, number], Row>(
        "SELECT * FROM triples WHERE collection = ? AND seq > ? ORDER BY seq",
      ),
      document: db.prepare<[string, string], Row>("SELECT * FROM triples WHERE collection = ? AND id = ?"),
      all: db.prepare<[], Row>("SELECT * FROM triples"),
    };
    this.seq = this.statements.maxSeq.get()?.seq ?? 0;
  }

  /**
   * Opens (creating if needed) the database of an app under `dataDir`. App ids are checked so no
   * id can name a file outside `dataDir`.
   */
  static open(
    dataDir: string,
    appId: string,
    options: { readonly isCheckpointedElsewhere?: boolean } = {},
  ): DatabaseResult<AppDatabase> {
    const checked = AppDatabase.checkAppId(appId);
    if (checked.error) return checked;
    try {
      if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true });
      return ok(
        new AppDatabase(new Database(join(dataDir, `${appId}.sqlite`)), options.isCheckpointedElsewhere ?? false),
      );
    } catch (error) {
      return fail(
        "STORAGE",
        `Could not open the database of app "${appId}" in ${dataDir}: ${(error as Error).message}`,
      );
    }
  }

  /** VALIDATION unless `appId` is one the server can keep a file for. */
  static checkAppId(appId: string): DatabaseResult<void> {
    return isId(appId) ? ok(undefined) : fail("VALIDATION", `App id ${JSON.stringify(appId)} must be ${ID_RULE}.`);
  }

  /** Merges one batch of triples in one durable transaction; throws the batch's error if it is refused. */
  apply(triples: readonly Triple[]): ApplyResult {
    const { outcomes, cursor } = this.applyBatches([triples]);
    const outcome = outcomes[0]!;
    if (outcome.error) throw outcome.error;
    return { applied: outcome.data, cursor };
  }

  /**
   * Merges several batches (pushes of different connections, say) in one durable transaction,
   * each in a savepoint of its own: a batch that cannot be stored (VALIDATION for its input,
   * STORAGE for a fault of the database itself) is rolled back alone and its neighbours commit.
   * Throws only when the commit itself fails, in which case nothing was stored.
   */
  applyBatches(batches: ReadonlyArray<readonly Triple[]>): ApplyBatchesResult {
    const applyOne = this.db.transaction((batch: readonly Triple[]) => {
      // Each document's state (tombstone, author) is read once per batch (a document's fields
      // usually come together); a delete applied in the batch updates its entry.
      const documents = new Map<string, DocumentState>();
      return batch.filter((triple) => this.applyOne(triple, documents));
    });
    const outcomes = this.db.transaction(() =>
      batches.map((batch): DatabaseResult<readonly Triple[]> => {
        const seq = this.seq;
        try {
          return ok(applyOne(batch));
        } catch (error) {
          // The savepoint rolled the batch back; its change numbers are free again.
          this.seq = seq;
          return refusalOf(error);
        }
      }),
    )();
    return { outcomes, cursor: String(this.seq) };
  }

  /** Stored cells changed after `cursor` (null: from the start), oldest first, at most `limit`. */
  changesSince(cursor: string | null, limit = 10_000): DatabaseResult<ChangeBatch> {
    const after = cursor === null ? 0 : Number(cursor);
    if (!Number.isSafeInteger(after) || after < 0)
      return fail("PROTOCOL", `Malformed cursor ${JSON.stringify(cursor)}.`);
    const rows = this.statements.since.all(after, limit);
    const triples = toTriples(rows);
    const last = rows.at(-1)?.seq ?? after;
    return ok({ triples, cursor: String(last) });
  }

  /** Stored cells of `collection` changed after `cursor` (a valid cursor), oldest first. */
  collectionChangesSince(collection: string, cursor: string): Triple[] {
    return toTriples(this.statements.collectionSince.all(collection, Number(cursor)));
  }

  /**
   * Every stored cell of one document, and whether any changed after `cursor` (null: it counts
   * as changed). A deleted document is its tombstone alone.
   */
  document(collection: string, id: string, cursor: string | null = null): { triples: Triple[]; changed: boolean } {
    const rows = this.statements.document.all(collection, id);
    const after = cursor === null ? -1 : Number(cursor);
    return { triples: toTriples(rows), changed: rows.some((row) => row.seq > after) };
  }

  /**
   * Whether the document existed when `cursor` was issued: one of its cells is no newer (cells
   * rewritten since say nothing, so a document all rewritten since counts as not).
   */
  existedAt(collection: string, id: string, cursor: string): boolean {
    const at = Number(cursor);
    return this.statements.document.all(collection, id).some((row) => row.seq <= at);
  }

  /** Every stored cell, for loading the in-memory replica at start. */
  *allTriples(): IterableIterator<Triple> {
    for (const row of this.statements.all.iterate()) {
      const triple = toTriple(row);
      if (triple !== undefined) yield triple;
    }
  }

  /**
   * The change number of an app's latest stored change (0 when it has no database yet), read
   * without keeping the database open.
   */
  static latestSeq(dataDir: string, appId: string): DatabaseResult<number> {
    if (!existsSync(join(dataDir, `${appId}.sqlite`))) return ok(0);
    const opened = AppDatabase.open(dataDir, appId, { isCheckpointedElsewhere: true });
    if (opened.error) return opened;
    try {
      return ok(opened.data.seq);
    } finally {
      opened.data.close();
    }
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

  /** The database's file. */
  get file(): string {
    return this.db.name;
  }

  /**
   * Starts storing one batch too large for one event-loop turn: in a transaction on a connection
   * of its own, slice by slice, so readers of this database see none of it until it commits. The
   * caller must not write through this database meanwhile, and calls {@link refresh} after the
   * commit.
   */
  beginLargeWrite(): DatabaseResult<LargeWrite> {
    let writer: AppDatabase;
    try {
      writer = new AppDatabase(new Database(this.db.name), this.isCheckpointedElsewhere);
      // A small page cache makes the transaction spill its pages to the WAL slice by slice, where
      // `flush` syncs them, rather than all at once in the commit.
      writer.db.pragma("cache_size = -512");
      writer.db.exec("BEGIN IMMEDIATE");
    } catch (error) {
      return fail("STORAGE", `Could not start storing the batch: ${(error as Error).message}`);
    }
    const documents = new Map<string, DocumentState>();
    // The pages a large transaction spills to the WAL as it goes are flushed to disk between
    // slices, on libuv's threads, so the commit's own fsync has little left to write while the
    // event loop waits on it.
    let wal: FileHandle | undefined;
    let isDone = false;
    const finish = () => {
      if (isDone) return;
      isDone = true;
      if (writer.db.inTransaction) writer.db.exec("ROLLBACK");
      writer.close();
      void wal?.close().catch(() => {});
    };
    return ok({
      flush: async () => {
        if (isDone) return;
        try {
          wal ??= await open(`${this.db.name}-wal`, "r");
          await wal.datasync();
        } catch {
          // Only an optimization: the commit syncs whatever is left.
        }
      },
      apply: (slice) => {
        if (isDone) return fail("STORAGE", "The batch was abandoned before it was stored; nothing of it was.");
        try {
          return ok(slice.filter((triple) => writer.applyOne(triple, documents)));
        } catch (error) {
          return refusalOf(error);
        }
      },
      commit: () => {
        if (isDone) return fail("STORAGE", "The batch was abandoned before it was stored; nothing of it was.");
        try {
          writer.db.exec("COMMIT");
          // This database wrote nothing meanwhile: its next change number follows the batch's.
          this.seq = writer.seq;
          return ok(String(writer.seq));
        } catch (error) {
          return fail("STORAGE", `Could not store the batch: ${(error as Error).message}`);
        } finally {
          finish();
        }
      },
      abandon: finish,
    });
  }

  /** `documents`: what this batch has read so far of each document it writes. */
  private applyOne(triple: Triple, documents: Map<string, DocumentState>): boolean {
    const { collection, id, field } = triple;
    const element = triple.element ?? "";
    const documentKey = `${collection}\u0000${id}`;
    let document = documents.get(documentKey);
    if (document === undefined) {
      document = { tombstone: this.statements.cell.get(collection, id, DELETED_FIELD, "")?.hlc ?? null };
      documents.set(documentKey, document);
    }
    if (field === DELETED_FIELD) {
      // Delete wins; of several deletes the earliest HLC is kept, as in the client store.
      if (document.tombstone !== null && document.tombstone <= triple.hlc) return false;
      this.statements.clearEntity.run(collection, id, DELETED_FIELD);
      this.statements.upsert.run(collection, id, field, "", "true", triple.hlc, ++this.seq);
      document.tombstone = triple.hlc;
      return true;
    }
    if (document.tombstone !== null) return false;
    let value: string;
    try {
      value = JSON.stringify(triple.value ?? null);
    } catch (error) {
      throw new Refusal(
        fail("VALIDATION", `The value of ${collection}/${id}.${field} cannot be stored: ${(error as Error).message}`, {
          collection,
          id,
          field,
        }).error,
      );
    }
    if (field === CREATED_BY_FIELD && element === "") {
      // The author is set once: a later push (a retry of the creating batch aside, which names
      // the same author) cannot make the document someone else's. It may arrive after other
      // writes of the document (tabs and devices push in their own order), so only an author
      // already stored counts.
      const author = this.statements.cell.get(collection, id, field, "");
      if (author !== undefined) return author.value === value ? false : refuseAuthor(collection, id);
    }
    // Encoded HLCs are ASCII and sort as the clocks do, so SQLite's and JavaScript's string
    // comparisons of them agree: comparing strings is comparing clocks.
    if (
      this.statements.upsertIfLater.run(collection, id, field, element, value, triple.hlc, this.seq + 1).changes > 0
    ) {
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

/** A batch being stored slice by slice (see `AppDatabase.beginLargeWrite`); nothing of it is visible before `commit`. */
export interface LargeWrite {
  /** Merges one slice; an error means the batch cannot be stored: `abandon` it. */
  apply(slice: readonly Triple[]): DatabaseResult<readonly Triple[]>;
  /** Writes to disk, off the event loop, what the slices so far spilled to the log (not a commit). */
  flush(): Promise<void>;
  /** Commits durably, answering the cursor after the batch; the write is then finished either way. */
  commit(): DatabaseResult<string>;
  /** Rolls back whatever was merged and lets the connection go (again: nothing). */
  abandon(): void;
}

/** What a batch knows of one document it writes. */
interface DocumentState {
  /** The HLC of its tombstone (null: not deleted). */
  tombstone: string | null;
}

function refuseAuthor(collection: string, id: string): never {
  throw new Refusal(
    fail(
      "VALIDATION",
      `createdBy of ${collection}/${id} is set once, by the write that creates the document, and cannot be changed; nothing of the batch was stored.`,
      {
        collection,
        id,
        field: CREATED_BY_FIELD,
      },
    ).error,
  );
}

/** The error of a batch rolled back: its refusal, or STORAGE for a fault of the database. */
function refusalOf(error: unknown): DatabaseResult<never> {
  if (error instanceof Refusal) return { data: undefined, error: error.error };
  const code = (error as { code?: unknown }).code;
  // SQLite refuses some values (too long a string, say): that is the batch's input, not a fault.
  if (
    code === "SQLITE_TOOBIG" ||
    code === "SQLITE_MISMATCH" ||
    code === "SQLITE_RANGE" ||
    !(typeof code === "string" && code.startsWith("SQLITE_"))
  ) {
    return fail("VALIDATION", `The batch cannot be stored: ${(error as Error).message}; nothing of it was stored.`);
  }
  return fail("STORAGE", `Could not store the batch: ${(error as Error).message}`);
}

/**
 * The triples of stored rows. A cell that cannot be served (unreadable JSON, or a value nested
 * deeper than the protocol allows, stored by an older version) is left out: its field reads as
 * missing, and the rest of the document and of the app is served as usual.
 */
function toTriples(rows: readonly Row[]): Triple[] {
  const triples: Triple[] = [];
  for (const row of rows) {
    const triple = toTriple(row);
    if (triple !== undefined) triples.push(triple);
  }
  return triples;
}

function toTriple(row: Row): Triple | undefined {
  let value: unknown;
  try {
    value = JSON.parse(row.value);
  } catch {
    return undefined;
  }
  if (exceedsValueDepth(value)) return undefined;
  const base = { collection: row.collection, id: row.id, field: row.field, value, hlc: row.hlc };
  return row.element === "" ? base : { ...base, element: row.element };
}
