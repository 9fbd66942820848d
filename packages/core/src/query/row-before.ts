import type { RowChange } from "../store/table.js";
import type { SourceTable } from "./source.js";

/**
 * A row as it was before a change, for a filter to test: the stored values it changed read as
 * they were, the rest (and the row's id) as they are. Only `get`, `idOf` and `isLive` read the
 * past: enough for filters on stored fields, not for `updatedAt`.
 *
 * @example
 * const table = store.table("users")!;
 * const test = compileWhere(normalized.where, normalized.specs);
 * const before = new RowBefore();
 * store.onCommit(({ tables }) => {
 *   for (const [row, change] of tables.get(table) ?? []) test(before.of(table, change), row); // matched before?
 * });
 */
export class RowBefore implements SourceTable {
  private table!: SourceTable;
  private change!: RowChange;

  /** Points this view at a row change of `table`; returns itself (one view is reused for every row). */
  of(table: SourceTable, change: RowChange): this {
    this.table = table;
    this.change = change;
    return this;
  }

  get name(): string {
    return this.table.name;
  }
  get liveCount(): number {
    return this.table.liveCount;
  }
  liveRows(): number[] {
    return this.table.liveRows();
  }
  rowOf(id: string): number | undefined {
    return this.table.rowOf(id);
  }
  isLive(): boolean {
    return this.change.wasLive;
  }
  idOf(row: number): string {
    return this.table.idOf(row);
  }
  get(row: number, field: string): unknown {
    return this.change.changed(field) ? this.change.before(field) : this.table.get(row, field);
  }
  updatedTicksOf(row: number): number {
    return this.table.updatedTicksOf(row);
  }
}
