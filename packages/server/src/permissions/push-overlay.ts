import type { Source, SourceTable, Triple, TripleStore } from "@trellis/core";
import { TripleStore as Store } from "@trellis/core";

/**
 * The app's data as it would be after a push: the replica, with every document the push writes
 * replaced by its state after the push (stored cells and pushed ones merged). A rule that reads
 * other documents (a project's members for a task) is checked on this, so a push that creates
 * a project and its first task in one go is judged as a whole. Rows of pushed documents are
 * negative (`-1 - row` in the overlay's own store); the replica's keep their numbers.
 */
export class PushOverlay implements Source {
  private readonly after = new Store();
  private readonly tables = new Map<string, OverlayTable>();

  constructor(
    private readonly replica: TripleStore,
    documents: Iterable<readonly Triple[]>,
  ) {
    this.after.transact(() => {
      for (const list of documents) {
        const { collection, id } = list[0]!;
        for (const triple of replica.documentTriples(collection, id)) this.after.applyTriple(triple);
        for (const triple of list) this.after.applyTriple(triple);
      }
    });
  }

  /** Never the same twice: answers are not kept between checks. */
  readonly version = undefined;

  table(collection: string): SourceTable | undefined {
    let table = this.tables.get(collection);
    if (table === undefined) {
      const replica = this.replica.table(collection);
      const after = this.after.table(collection);
      if (replica === undefined && after === undefined) return undefined;
      this.tables.set(collection, (table = new OverlayTable(collection, replica, after)));
    }
    return table;
  }
}

const toAfter = (row: number) => -1 - row;
const fromAfter = (row: number) => -1 - row;

class OverlayTable implements SourceTable {
  constructor(
    readonly name: string,
    private readonly replica: SourceTable | undefined,
    private readonly after: SourceTable | undefined,
  ) {}

  /** Whether the push writes the document with this id (then the replica's row is hidden). */
  private isOverridden(id: string): boolean {
    return (this.after as ReturnType<TripleStore["table"]>)?.anyRowOf(id) !== undefined;
  }

  liveRows(): number[] {
    const rows: number[] = [];
    for (const row of this.replica?.liveRows() ?? []) if (!this.isOverridden(this.replica!.idOf(row))) rows.push(row);
    for (const row of this.after?.liveRows() ?? []) rows.push(toAfter(row));
    return rows;
  }

  get liveCount(): number {
    return this.liveRows().length;
  }

  rowOf(id: string): number | undefined {
    if (this.isOverridden(id)) {
      const row = this.after!.rowOf(id);
      return row === undefined ? undefined : toAfter(row);
    }
    return this.replica?.rowOf(id);
  }

  isLive(row: number): boolean {
    return row < 0 ? this.after!.isLive(fromAfter(row)) : this.replica!.isLive(row);
  }

  idOf(row: number): string {
    return row < 0 ? this.after!.idOf(fromAfter(row)) : this.replica!.idOf(row);
  }

  get(row: number, field: string): unknown {
    return row < 0 ? this.after!.get(fromAfter(row), field) : this.replica!.get(row, field);
  }

  updatedTicksOf(row: number): number {
    return row < 0 ? this.after!.updatedTicksOf(fromAfter(row)) : this.replica!.updatedTicksOf(row);
  }

  equalityIndex(field: string): { get(value: unknown): ReadonlySet<number> } {
    return {
      get: (value) => {
        const rows = new Set<number>();
        for (const row of this.replica?.equalityIndex?.(field).get(value) ?? [])
          if (!this.isOverridden(this.replica!.idOf(row))) rows.add(row);
        for (const row of this.after?.equalityIndex?.(field).get(value) ?? []) rows.add(toAfter(row));
        return rows;
      },
    };
  }
}
