import {
  type Condition,
  type DocumentRef,
  type LiveView,
  RelationTracker,
  type RowChange,
  type Source,
  type SourceTable,
  type Watch,
} from "@trellis/core";

/** A collection whose read rule reaches other documents, and how to map their changes back. */
interface Reach {
  readonly collection: string;
  readonly tracker: RelationTracker;
}

/**
 * Hears, as a live view of the app's replica, the changes that can change who may read documents
 * of other collections: a project's `memberIds` for its tasks under a rule like
 * `{ "projectId": { "collection": "projects", "where": { "memberIds": "$user.id" } } }`. Each
 * commit it collects the documents whose readability such a change may alter, found as live
 * relational filters find their rows (see `RelationTracker`); the hub re-checks their holders.
 */
export class RuleReach implements LiveView {
  readonly watches: readonly Watch[];
  private readonly reaches: Reach[];
  private reached = new Map<string, DocumentRef>();
  /** Collections a bulk commit may have changed wholesale: every held document of them is re-checked. */
  private everything = new Set<string>();

  constructor(
    structures: ReadonlyMap<string, readonly Condition[]>,
    private readonly source: Source,
  ) {
    this.reaches = [...structures].map(([collection, where]) => ({
      collection,
      tracker: new RelationTracker({ collection, where }, source),
    }));
    const collections = new Set(this.reaches.flatMap((reach) => reach.tracker.collections));
    this.watches = [...collections].map((collection) => ({ collection }));
  }

  canSee(table: SourceTable, row: number, change: RowChange): boolean {
    return this.reaches.some((reach) => reach.tracker.canSee(table, row, change));
  }

  apply(table: SourceTable, row: number, change: RowChange): void {
    for (const { collection, tracker } of this.reaches) {
      if (!tracker.canSee(table, row, change)) continue;
      const ruled = this.source.table(collection);
      if (ruled === undefined) continue;
      for (const root of tracker.affectedRoots(table, row, change).retest) {
        const id = ruled.idOf(root);
        this.reached.set(`${collection}\u0000${id}`, { collection, id });
      }
    }
  }

  reset(table: SourceTable): void {
    for (const { collection, tracker } of this.reaches)
      if (tracker.collections.includes(table.name)) this.everything.add(collection);
  }

  flush(): boolean {
    return false;
  }

  /** The collections the read rule of `collection` reaches (none without such a rule). */
  reachedFrom(collection: string): string[] {
    return this.reaches
      .filter((reach) => reach.collection === collection)
      .flatMap((reach) => reach.tracker.collections);
  }

  /**
   * The documents of `collection` whose readability under its read rule depends on document `id`
   * of `reached` (the tasks of a project), as the replica holds them now.
   */
  ruledBy(collection: string, reached: string, id: string): string[] {
    const table = this.source.table(reached) as
      (SourceTable & { anyRowOf?(id: string): number | undefined }) | undefined;
    const ruled = this.source.table(collection);
    const row = table?.anyRowOf?.(id) ?? table?.rowOf(id);
    if (table === undefined || ruled === undefined || row === undefined) return [];
    const ids: string[] = [];
    for (const reach of this.reaches) {
      if (reach.collection !== collection) continue;
      for (const root of reach.tracker.rootsReaching(table, row).retest) ids.push(ruled.idOf(root));
    }
    return ids;
  }

  /**
   * The documents collected since the last call, and the collections to re-check whole (after a
   * bulk commit); both are cleared.
   */
  take(): { readonly documents: DocumentRef[]; readonly collections: ReadonlySet<string> } {
    const taken = { documents: [...this.reached.values()], collections: this.everything };
    this.reached = new Map();
    this.everything = new Set();
    return taken;
  }
}
