import { incomingWins } from "../merge.js";
import { EqualityIndex, RangeIndex } from "./indexes.js";

/**
 * What a transaction remembers of a row it touched: whether it was live, and the stored value
 * of each changed field before the transaction's first change to it. Kept as one flat array
 * (field, value, field, value, …): a bulk load touches every row once, and a Map per row
 * doubled its cost in garbage collection.
 */
export class RowChange {
  private readonly previous: unknown[] = [];
  private lastAsked: ReadonlySet<string> | undefined;
  private lastAnswer = false;

  constructor(readonly wasLive: boolean) {}

  /** Whether the transaction changed this field. */
  changed(field: string): boolean {
    const previous = this.previous;
    for (let i = 0; i < previous.length; i += 2) if (previous[i] === field) return true;
    return false;
  }

  /** The field's stored value before the transaction (undefined if unchanged or unset). */
  before(field: string): unknown {
    const previous = this.previous;
    for (let i = 0; i < previous.length; i += 2) if (previous[i] === field) return previous[i + 1];
    return undefined;
  }

  /** The changed fields. */
  fields(): string[] {
    const fields: string[] = [];
    for (let i = 0; i < this.previous.length; i += 2) fields.push(this.previous[i] as string);
    return fields;
  }

  /** Whether the transaction changed any of these fields. */
  changedAny(fields: ReadonlySet<string>): boolean {
    // Live queries over the same fields share their set, and a change is asked about it by many.
    if (fields === this.lastAsked) return this.lastAnswer;
    const previous = this.previous;
    let answer = false;
    for (let i = 0; i < previous.length; i += 2) {
      if (fields.has(previous[i] as string)) {
        answer = true;
        break;
      }
    }
    this.lastAsked = fields;
    this.lastAnswer = answer;
    return answer;
  }

  /** Records a field's value before its first change; later calls for it are ignored. */
  remember(field: string, value: unknown): void {
    this.lastAsked = undefined;
    if (!this.changed(field)) this.previous.push(field, value);
  }
}

/** Gives the transaction's record of a row, creating it on first touch. */
export type TouchRow = (table: Table, row: number) => RowChange;

const enum RowState {
  Empty = 0,
  Live = 1,
  Deleted = 2,
}

/** Node index 0 marks a cell that was never written. */
const UNWRITTEN = 0;

/** A last-writer-wins column: one value and one HLC (ticks + interned node) per row. */
class Column {
  values: unknown[] = [];
  ticks: Float64Array;
  nodes: Uint32Array;

  constructor(capacity: number) {
    this.ticks = new Float64Array(capacity);
    this.nodes = new Uint32Array(capacity);
  }

  grow(capacity: number): void {
    const ticks = new Float64Array(capacity);
    ticks.set(this.ticks);
    this.ticks = ticks;
    const nodes = new Uint32Array(capacity);
    nodes.set(this.nodes);
    this.nodes = nodes;
  }
}

/** One element register of a set field. */
interface ElementCell {
  present: boolean;
  ticks: number;
  node: number;
}

/** A set column (`t.refMany`): per row, one register per element, plus the sorted members. */
class SetColumn {
  cells: Array<Map<string, ElementCell> | undefined> = [];
  members: Array<string[] | undefined> = [];
}

/**
 * The documents of one collection, stored by column. A row is a dense number assigned on an
 * id's first appearance, so typed arrays can hold the per-cell clocks (the bulk of the memory a
 * triple store needs) without an object per document or per field. A row is reused only after
 * {@link unload} freed it (a client's working set dropping a document storage still holds).
 */
export class Table {
  readonly ids: string[] = [];
  private readonly rowById = new Map<string, number>();
  /** Rows {@link unload} freed, reused before new ones. */
  private readonly freeRows: number[] = [];
  /**
   * Memory holds only some of the collection's stored documents (rows were unloaded): a query
   * over the whole collection must read storage first. Whoever reads them all back clears it.
   */
  isPartial = false;
  private state: Uint8Array;
  private updatedTicks: Float64Array;
  private readonly columns = new Map<string, Column>();
  private readonly setColumns = new Map<string, SetColumn>();
  private readonly tombstones = new Map<number, { ticks: number; node: number }>();
  private readonly equalityIndexes = new Map<string, EqualityIndex>();
  private readonly rangeIndexes = new Map<string, RangeIndex>();
  private capacity: number;
  liveCount = 0;
  /** Whether commits report this table's changes (see `TripleStore.watch`). */
  isWatched = false;

  constructor(
    readonly name: string,
    private readonly nodeName: (node: number) => string,
  ) {
    this.capacity = 64;
    this.state = new Uint8Array(this.capacity);
    this.updatedTicks = new Float64Array(this.capacity);
  }

  // ---- reading ----

  /** The row of a live document, or undefined. */
  rowOf(id: string): number | undefined {
    const row = this.rowById.get(id);
    return row !== undefined && this.state[row] === RowState.Live ? row : undefined;
  }

  /** The row of an id in any state (live, deleted), or undefined if never seen. */
  anyRowOf(id: string): number | undefined {
    return this.rowById.get(id);
  }

  /** The id of a row. */
  idOf(row: number): string {
    return this.ids[row]!;
  }

  isLive(row: number): boolean {
    return this.state[row] === RowState.Live;
  }

  isDeleted(row: number): boolean {
    return this.state[row] === RowState.Deleted;
  }

  /** Number of documents held (live or deleted), not counting freed rows. */
  get residentCount(): number {
    return this.ids.length - this.freeRows.length;
  }

  /** Every live row, in row order: deleted rows (kept as tombstones), forgotten and freed rows are left out. */
  liveRows(): number[] {
    const rows: number[] = [];
    const state = this.state;
    for (let row = 0, count = this.ids.length; row < count; row++) if (state[row] === RowState.Live) rows.push(row);
    return rows;
  }

  /**
   * The stored value of a field (a set field: its sorted members), or undefined. A row's plain
   * value comes first, then its set members, so a stray plain write to a set field (or element
   * writes to a plain one) changes what only the rows written to read, never the whole column.
   */
  get(row: number, field: string): unknown {
    const value = this.columns.get(field)?.values[row];
    if (value !== undefined) return value;
    return this.setColumns.get(field)?.members[row];
  }

  /** HLC ticks of the row's latest write. */
  updatedTicksOf(row: number): number {
    return this.updatedTicks[row]!;
  }

  /** HLC ticks of the write that set a plain field's value, or undefined if it was never written. */
  ticksOf(row: number, field: string): number | undefined {
    const column = this.columns.get(field);
    return column === undefined || (column.nodes[row] ?? UNWRITTEN) === UNWRITTEN ? undefined : column.ticks[row];
  }

  /** Every field with a stored column (plain or set). */
  fieldNames(): string[] {
    return [...this.columns.keys(), ...this.setColumns.keys()];
  }

  /** Calls `visit` for each written cell of a row (for export and sync). */
  forEachCell(
    row: number,
    visit: (field: string, value: unknown, ticks: number, node: string, element?: string) => void,
  ): void {
    const tombstone = this.tombstones.get(row);
    if (tombstone !== undefined) {
      visit("$deleted", true, tombstone.ticks, this.nodeName(tombstone.node));
      return;
    }
    for (const [field, column] of this.columns) {
      const node = column.nodes[row] ?? UNWRITTEN;
      if (node !== UNWRITTEN) visit(field, column.values[row] ?? null, column.ticks[row]!, this.nodeName(node));
    }
    for (const [field, set] of this.setColumns) {
      const cells = set.cells[row];
      if (cells === undefined) continue;
      for (const [element, cell] of cells) visit(field, cell.present, cell.ticks, this.nodeName(cell.node), element);
    }
  }

  // ---- indexes ----

  /** The equality index of a field, built on first use and kept up to date afterwards. */
  equalityIndex(field: string): EqualityIndex {
    let index = this.equalityIndexes.get(field);
    if (index === undefined) {
      index = new EqualityIndex();
      for (const row of this.liveRows()) index.add(row, this.get(row, field));
      this.equalityIndexes.set(field, index);
    }
    return index;
  }

  /** The range index of a field, built on first use. */
  rangeIndex(field: string): RangeIndex {
    let index = this.rangeIndexes.get(field);
    if (index === undefined) {
      index = new RangeIndex(
        () => this.liveRows(),
        (row) => this.get(row, field),
      );
      this.rangeIndexes.set(field, index);
    }
    return index;
  }

  // ---- writing ----

  /** The row for an id, allocated on first sight. */
  rowFor(id: string): number {
    let row = this.rowById.get(id);
    if (row === undefined) {
      row = this.freeRows.pop();
      if (row === undefined) {
        row = this.ids.length;
        if (row === this.capacity) this.grow();
        this.ids.push(id);
      } else {
        this.ids[row] = id;
      }
      this.rowById.set(id, row);
    }
    return row;
  }

  /**
   * Forgets a document as if it was never written (its cells, tombstone and index entries) and
   * frees its row for another id, without a change record: nothing that holds the row number
   * may still use it (a live view holding it, a transaction in progress). The table becomes
   * partial. For a working set dropping a document storage still holds.
   */
  unload(row: number): void {
    const id = this.ids[row];
    if (id === undefined || this.rowById.get(id) !== row) return;
    if (this.state[row] === RowState.Live) {
      for (const [field, index] of this.equalityIndexes) index.remove(row, this.get(row, field));
      this.liveCount--;
    }
    for (const column of this.columns.values()) {
      column.values[row] = undefined;
      column.ticks[row] = 0;
      column.nodes[row] = UNWRITTEN;
    }
    for (const set of this.setColumns.values()) {
      set.cells[row] = undefined;
      set.members[row] = undefined;
    }
    this.tombstones.delete(row);
    this.state[row] = RowState.Empty;
    this.updatedTicks[row] = 0;
    this.rowById.delete(id);
    this.ids[row] = "";
    this.freeRows.push(row);
    this.isPartial = true;
    for (const index of this.rangeIndexes.values()) index.markStale();
  }

  /**
   * Applies a last-writer-wins write to a plain field. Returns whether the stored value changed
   * hands (the write won). Writes to deleted rows are dropped: delete wins.
   */
  setField(row: number, field: string, value: unknown, ticks: number, node: number, touch: TouchRow): boolean {
    if (this.state[row] === RowState.Deleted) return false;
    let column = this.columns.get(field);
    if (column === undefined) this.columns.set(field, (column = new Column(this.capacity)));
    const currentNode = column.nodes[row]!;
    if (
      currentNode !== UNWRITTEN &&
      !incomingWins(
        ticks,
        this.nodeName(node),
        value,
        column.ticks[row]!,
        this.nodeName(currentNode),
        column.values[row] ?? null,
      )
    ) {
      return false;
    }
    const change = touch(this, row);
    // Old and new values as `get` reads them, so the indexes and the change record agree with it.
    const old = column.values[row] ?? this.setColumns.get(field)?.members[row];
    change.remember(field, old);
    this.reviveIfEmpty(row);
    this.unindex(row, field, old);
    column.values[row] = value === null ? undefined : value;
    column.ticks[row] = ticks;
    column.nodes[row] = node;
    this.index(row, field, column.values[row] ?? this.setColumns.get(field)?.members[row]);
    if (ticks > this.updatedTicks[row]!) this.updatedTicks[row] = ticks;
    return true;
  }

  /** Applies a last-writer-wins write to one element of a set field. */
  setElement(
    row: number,
    field: string,
    element: string,
    present: boolean,
    ticks: number,
    node: number,
    touch: TouchRow,
  ): boolean {
    if (this.state[row] === RowState.Deleted) return false;
    let set = this.setColumns.get(field);
    if (set === undefined) this.setColumns.set(field, (set = new SetColumn()));
    let cells = set.cells[row];
    if (cells === undefined) set.cells[row] = cells = new Map();
    const cell = cells.get(element);
    if (
      cell !== undefined &&
      !incomingWins(ticks, this.nodeName(node), present, cell.ticks, this.nodeName(cell.node), cell.present)
    ) {
      return false;
    }
    const change = touch(this, row);
    // A plain value of the row, if any, is what `get` reads; the members count only without one.
    const plain = this.columns.get(field)?.values[row];
    const old = plain ?? set.members[row];
    change.remember(field, old);
    this.reviveIfEmpty(row);
    const wasPresent = cell?.present ?? false;
    if (cell === undefined) cells.set(element, { present, ticks, node });
    else Object.assign(cell, { present, ticks, node });
    if (wasPresent !== present) {
      this.unindex(row, field, old);
      const members: string[] = [];
      for (const [name, each] of cells) if (each.present) members.push(name);
      members.sort();
      set.members[row] = members.length > 0 ? members : undefined;
      this.index(row, field, plain ?? set.members[row]);
    }
    if (ticks > this.updatedTicks[row]!) this.updatedTicks[row] = ticks;
    return true;
  }

  /** Deletes a row for good: its cells are dropped and later writes to it are ignored. */
  delete(row: number, ticks: number, node: number, touch: TouchRow): boolean {
    const tombstone = this.tombstones.get(row);
    if (tombstone !== undefined) {
      // Keep the earliest delete so every replica keeps the same tombstone whatever the order.
      if (
        ticks < tombstone.ticks ||
        (ticks === tombstone.ticks && this.nodeName(node) < this.nodeName(tombstone.node))
      ) {
        this.tombstones.set(row, { ticks, node });
      }
      return false;
    }
    this.clear(row, touch(this, row));
    this.state[row] = RowState.Deleted;
    this.tombstones.set(row, { ticks, node });
    return true;
  }

  /**
   * Forgets a document as if it was never written (its cells, and a tombstone if deleted), as a
   * change live queries hear: a live one leaves their results, and a later write (the server
   * sending it again) starts it afresh. The row keeps its number, so views holding it stay
   * valid. For a client dropping a document its user may no longer read, or rolling back a
   * refused write. Returns whether there was anything to forget.
   */
  forget(row: number, touch: TouchRow): boolean {
    if (this.state[row] === RowState.Empty) return false;
    this.clear(row, touch(this, row));
    this.tombstones.delete(row);
    this.state[row] = RowState.Empty;
    this.updatedTicks[row] = 0;
    return true;
  }

  /** Drops every cell of a row, remembering what `get` read in `change` (live queries route by it). */
  private clear(row: number, change: RowChange): void {
    const wasLive = this.state[row] === RowState.Live;
    for (const [field, column] of this.columns) {
      const old = column.values[row] ?? this.setColumns.get(field)?.members[row];
      change.remember(field, old);
      if (wasLive) this.unindex(row, field, old);
      column.values[row] = undefined;
      column.ticks[row] = 0;
      column.nodes[row] = UNWRITTEN;
    }
    for (const [field, set] of this.setColumns) {
      const old = set.members[row];
      change.remember(field, old);
      if (wasLive) this.unindex(row, field, old);
      set.cells[row] = undefined;
      set.members[row] = undefined;
    }
    if (wasLive) this.liveCount--;
    for (const index of this.rangeIndexes.values()) index.markStale();
  }

  private reviveIfEmpty(row: number): void {
    if (this.state[row] !== RowState.Empty) return;
    this.state[row] = RowState.Live;
    this.liveCount++;
    // The row's other cells are still empty, so only range indexes need to hear about it.
    for (const index of this.rangeIndexes.values()) index.markStale();
  }

  private index(row: number, field: string, value: unknown): void {
    this.equalityIndexes.get(field)?.add(row, value);
    this.rangeIndexes.get(field)?.markStale();
  }

  private unindex(row: number, field: string, value: unknown): void {
    this.equalityIndexes.get(field)?.remove(row, value);
  }

  private grow(): void {
    this.capacity *= 2;
    const state = new Uint8Array(this.capacity);
    state.set(this.state);
    this.state = state;
    const updated = new Float64Array(this.capacity);
    updated.set(this.updatedTicks);
    this.updatedTicks = updated;
    for (const column of this.columns.values()) column.grow(this.capacity);
  }
}
