import { type Hlc, decodeHlc, encodeHlc } from "../hlc.js";
import { type DatabaseResult, fail, ok } from "../errors.js";
import { DELETED_FIELD, type DocumentRef, type Triple } from "../triples.js";
import { RowChange, Table } from "./table.js";

/** Every row one transaction changed, per table. Rows appear once however often they changed. */
export interface Commit {
  readonly tables: ReadonlyMap<Table, ReadonlyMap<number, RowChange>>;
}

/** A change record that records nothing, for collections nobody watches. */
const UNWATCHED_CHANGE = new (class extends RowChange {
  override remember(): void {}
})(false);

/** Writes documents' plain fields one by one (see `TripleStore.cellWriter`). */
export interface CellWriter {
  /** Starts a document: the next `set`s write its cells under `hlc`. Returns its row. */
  start(id: string, hlc: Hlc): number;
  /** Writes a plain field of the started document (`null` removes it), as `setField` does. */
  set(field: string, value: unknown): void;
}

/** Listener for committed transactions; runs synchronously at the end of each. */
export type CommitListener = (commit: Commit) => void;

/**
 * The triple store: tables of documents whose every cell carries the HLC of its last write, with
 * the merge rules applied on every write, local or remote. Writes happen inside transactions;
 * listeners hear about each transaction once, with the before-values of what it changed, which
 * is all live queries need to update incrementally.
 *
 * @example
 * const store = new TripleStore();
 * store.transact(() => store.setField("users", "u1", "name", "Ada", clock.now()));
 */
export class TripleStore {
  private readonly tables = new Map<string, Table>();
  private readonly nodeNames: string[] = [""];
  private readonly nodeIds = new Map<string, number>();
  private readonly listeners = new Set<CommitListener>();
  private pending: Map<Table, Map<number, RowChange>> | undefined;
  private depth = 0;
  /** Counts transactions and unloads: see {@link version}. */
  private changes = 0;
  private readonly watchers = new Map<string, number>();
  private readonly touch = (table: Table, row: number): RowChange => {
    // Nobody follows this collection: skip the bookkeeping (it dominated bulk loads).
    if (!table.isWatched) return UNWATCHED_CHANGE;
    const pending = this.pending!;
    let rows = pending.get(table);
    if (rows === undefined) pending.set(table, (rows = new Map()));
    let change = rows.get(row);
    if (change === undefined) rows.set(row, (change = new RowChange(table.isLive(row))));
    return change;
  };
  private readonly nodeName = (node: number): string => this.nodeNames[node]!;

  /**
   * Changes with every transaction and every unload, so answers computed from the store can be
   * reused until then (see `Source.version`); undefined inside a transaction.
   */
  get version(): number | undefined {
    return this.depth > 0 ? undefined : this.changes;
  }

  /** The table of a collection, or undefined if nothing was ever written to it. */
  table(collection: string): Table | undefined {
    return this.tables.get(collection);
  }

  /**
   * Forgets a collection's documents in memory (a client's working set evicting what storage
   * still holds): refused (false) while anything watches the collection, since live queries
   * read its table. Nothing is committed: no listener hears of it.
   */
  dropTable(collection: string): boolean {
    if (this.watchers.has(collection) || this.depth > 0) return false;
    this.changes++;
    return this.tables.delete(collection);
  }

  /**
   * Forgets single documents in memory (see `Table.unload`): only rows no live view holds, and
   * never inside a transaction (refused: false). The table is partial afterwards.
   */
  unload(collection: string, rows: Iterable<number>): boolean {
    const table = this.tables.get(collection);
    if (table === undefined || this.depth > 0) return false;
    this.changes++;
    for (const row of rows) table.unload(row);
    return true;
  }

  /**
   * Runs `body` as one transaction whose changes to `collection` no listener hears (a bulk load
   * of stored documents; watchers are then refreshed once, see `LiveQueryRegistry.refresh`).
   */
  transactUnheard<T>(collection: string, body: () => T): T {
    const table = this.tableFor(collection);
    const wasWatched = table.isWatched;
    table.isWatched = false;
    try {
      return this.transact(body);
    } finally {
      table.isWatched = wasWatched;
    }
  }

  /** Whether live queries (or anything else) watch the collection. */
  isWatched(collection: string): boolean {
    return this.watchers.has(collection);
  }

  /** Every table, deleted documents included. */
  allTables(): IterableIterator<Table> {
    return this.tables.values();
  }

  /**
   * Asks commits to report changes of a collection. Commits report only watched collections, so
   * writes to collections nobody follows cost no change tracking. Returns an unwatch.
   */
  watch(collection: string): () => void {
    this.watchers.set(collection, (this.watchers.get(collection) ?? 0) + 1);
    const table = this.tables.get(collection);
    if (table !== undefined) table.isWatched = true;
    let isWatching = true;
    return () => {
      if (!isWatching) return;
      isWatching = false;
      const count = this.watchers.get(collection)! - 1;
      if (count > 0) {
        this.watchers.set(collection, count);
        return;
      }
      this.watchers.delete(collection);
      const watched = this.tables.get(collection);
      if (watched !== undefined) watched.isWatched = false;
    };
  }

  /** Hears every committed transaction (changes of watched collections). Returns an unsubscribe. */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs `body` as one transaction: listeners hear about all its changes once, at the end.
   * Transactions nest; only the outermost one commits.
   */
  transact<T>(body: () => T): T {
    if (this.depth === 0) this.pending = new Map();
    this.depth++;
    try {
      return body();
    } finally {
      this.depth--;
      if (this.depth === 0) {
        this.changes++;
        const tables = this.pending!;
        this.pending = undefined;
        if (tables.size > 0) for (const listener of [...this.listeners]) listener({ tables });
      }
    }
  }

  /** Writes a plain field (`null` removes it). Returns whether the write won. */
  setField(collection: string, id: string, field: string, value: unknown, hlc: Hlc): boolean {
    if (this.depth === 0) return this.transact(() => this.setField(collection, id, field, value, hlc));
    const table = this.tableFor(collection);
    return table.setField(table.rowFor(id), field, value, hlc.ticks, this.intern(hlc.node), this.touch);
  }

  /**
   * Writes several plain fields of one document under one HLC (a create or an update): the same
   * as calling {@link setField} for each, with one table, row and node lookup. Returns the
   * document's row in its table.
   */
  setFields(
    collection: string,
    id: string,
    fields: ReadonlyArray<readonly [field: string, value: unknown]>,
    hlc: Hlc,
  ): number {
    if (this.depth === 0) return this.transact(() => this.setFields(collection, id, fields, hlc));
    const cells = this.cellWriter(collection);
    const row = cells.start(id, hlc);
    for (const [field, value] of fields) cells.set(field, value);
    return row;
  }

  /**
   * Writes plain fields of documents of one collection cell by cell, each document under one
   * HLC: {@link setFields} without a list of fields per document, for bulk creates. Use it
   * inside a transaction.
   */
  cellWriter(collection: string): CellWriter {
    const table = this.tableFor(collection);
    let row = 0;
    let ticks = 0;
    let node = 0;
    return {
      start: (id, hlc) => {
        row = table.rowFor(id);
        ticks = hlc.ticks;
        node = this.intern(hlc.node);
        return row;
      },
      set: (field, value) => void table.setField(row, field, value, ticks, node, this.touch),
    };
  }

  /** Adds (`present: true`) or removes an element of a set field. Returns whether the write won. */
  setElement(collection: string, id: string, field: string, element: string, present: boolean, hlc: Hlc): boolean {
    const table = this.tableFor(collection);
    return this.inTransaction(() =>
      table.setElement(table.rowFor(id), field, element, present, hlc.ticks, this.intern(hlc.node), this.touch),
    );
  }

  /** Deletes a document for good. Returns whether it was not deleted before. */
  delete(collection: string, id: string, hlc: Hlc): boolean {
    const table = this.tableFor(collection);
    return this.inTransaction(() => table.delete(table.rowFor(id), hlc.ticks, this.intern(hlc.node), this.touch));
  }

  /**
   * Forgets documents as if they were never written, deleted ones with their tombstone (see
   * `Table.forget`): live queries see them leave. Returns how many it held.
   */
  forget(documents: Iterable<DocumentRef>): number {
    return this.inTransaction(() => {
      let count = 0;
      for (const { collection, id } of documents) {
        const table = this.tables.get(collection);
        const row = table?.anyRowOf(id);
        if (row !== undefined && table!.forget(row, this.touch)) count++;
      }
      return count;
    });
  }

  /** Applies one triple (local or remote) with the merge rules. */
  applyTriple(triple: Triple): DatabaseResult<boolean> {
    const hlc = decodeHlc(triple.hlc);
    if (hlc.error) return hlc;
    if (triple.field === DELETED_FIELD) {
      if (triple.value !== true)
        return fail("PROTOCOL", `A ${DELETED_FIELD} triple must carry true; deletes cannot be undone.`);
      return ok(this.delete(triple.collection, triple.id, hlc.data));
    }
    if (triple.element !== undefined) {
      if (typeof triple.value !== "boolean")
        return fail("PROTOCOL", `Set element triples carry true or false, got ${typeof triple.value}.`);
      return ok(this.setElement(triple.collection, triple.id, triple.field, triple.element, triple.value, hlc.data));
    }
    return ok(this.setField(triple.collection, triple.id, triple.field, triple.value, hlc.data));
  }

  /** Every stored triple (tombstones included), for sync snapshots and replica comparison. */
  *triples(): IterableIterator<Triple> {
    for (const table of this.tables.values()) {
      for (let row = 0; row < table.ids.length; row++) yield* rowTriples(table, row);
    }
  }

  /**
   * The stored triples of one document (a deleted one: only its tombstone), or an empty list if
   * it was never written: what persistence writes for a changed document.
   */
  documentTriples(collection: string, id: string): Triple[] {
    const table = this.tables.get(collection);
    const row = table?.anyRowOf(id);
    return row === undefined ? [] : rowTriples(table!, row);
  }

  private inTransaction<T>(body: () => T): T {
    return this.depth > 0 ? body() : this.transact(body);
  }

  private tableFor(collection: string): Table {
    let table = this.tables.get(collection);
    if (table === undefined) {
      table = new Table(collection, this.nodeName);
      table.isWatched = this.watchers.has(collection);
      this.tables.set(collection, table);
    }
    return table;
  }

  private intern(node: string): number {
    let id = this.nodeIds.get(node);
    if (id === undefined) {
      id = this.nodeNames.length;
      this.nodeNames.push(node);
      this.nodeIds.set(node, id);
    }
    return id;
  }
}

function rowTriples(table: Table, row: number): Triple[] {
  const id = table.ids[row]!;
  const collection = table.name;
  const out: Triple[] = [];
  table.forEachCell(row, (field, value, ticks, node, element) => {
    const hlc = encodeHlc({ ticks, node });
    out.push(
      element === undefined ? { collection, id, field, value, hlc } : { collection, id, field, value, hlc, element },
    );
  });
  return out;
}
