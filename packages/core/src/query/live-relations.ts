import { readStored } from "../schema/read.js";
import type { RowChange } from "../store/table.js";
import { CREATED_AT_FIELD } from "../triples.js";
import {
  type Condition,
  type NormalizedQuery,
  type NormalizedRelation,
  relatedFilters,
  whereFields,
} from "./normalized-query.js";
import type { CostMeter } from "./query-cost.js";
import { readDependsOnCreatedAt } from "./read-field.js";
import type { Route } from "./live-view.js";
import type { RelationWatch } from "./relation-watch.js";
import type { Source, SourceTable } from "./source.js";

/** How one step of a path reaches its child collection from its parent. */
type Step = Pick<NormalizedRelation, "direction" | "link" | "linkSpec">;

/** A relation or relational filter reachable from the root query, with the steps leading to it. */
interface TrackedNode {
  /** Steps from the root down to this node's collection. */
  readonly path: readonly Step[];
  /** Collection of each step's parent (path[i]'s parent is parents[i]). */
  readonly parents: readonly string[];
  readonly collection: string;
  /** Fields of the node's collection whose change can alter what the node returns or matches. */
  readonly dependencies: ReadonlySet<string>;
  readonly dependsOnEveryField: boolean;
  /** Reached through relational filters of the root's `where` only: a change re-decides which root rows match. */
  readonly decidesMatch: boolean;
  /** A relational filter (not a relation) is on the path. */
  readonly isFilter: boolean;
  /** Keeps the node's rows per root row: a top-level relation shown a few rows at a time. */
  readonly watch?: RelationWatch | undefined;
}

/** Root rows a change of a related row can alter. */
export interface AffectedRoots {
  /** Rows whose match must be decided again (relational filters of the root's `where`). */
  readonly retest: Set<number>;
  /** Rows whose related documents must be built again (relations, and filters inside them). */
  readonly touch: Set<number>;
  /** Whether a relational filter reached the change: what the filters reach may differ now. */
  readonly throughFilter: boolean;
}

/**
 * Follows the collections a live query's relations and relational filters read, and maps a
 * change there back to the root rows it can alter: through the link field's equality index for
 * forward links (parents whose ref holds the child's id) and through the child's link value,
 * before and after the change, for reverse links.
 */
export class RelationTracker {
  private readonly nodes: TrackedNode[] = [];
  /** Fields of the root collection that relations read (forward link fields). */
  readonly rootLinkFields: readonly string[];

  constructor(
    query: Pick<NormalizedQuery, "collection" | "where" | "relations">,
    private readonly source: Source,
    /** Watches of top-level relations: their changes reach parents through them. */
    watches?: ReadonlyMap<NormalizedRelation, RelationWatch>,
  ) {
    this.rootLinkFields = forwardLinks(query);
    const add = (node: Omit<TrackedNode, "dependsOnEveryField" | "dependencies">, fields: Set<string>) => {
      const full = { ...node, dependencies: fields, dependsOnEveryField: fields.has("updatedAt") };
      this.nodes.push(full);
      return full;
    };
    const visitFilters = (
      where: readonly Condition[],
      parent: string,
      at: Pick<TrackedNode, "path" | "parents" | "decidesMatch">,
    ) => {
      for (const { filter } of relatedFilters(where)) {
        const fields = readFields(whereFields(filter.where), filter.specs);
        if (filter.direction === "reverse") fields.add(filter.link);
        const node = add(
          {
            path: [...at.path, filter],
            parents: [...at.parents, parent],
            collection: filter.collection,
            decidesMatch: at.decidesMatch,
            isFilter: true,
          },
          fields,
        );
        visitFilters(filter.where, filter.collection, node);
      }
    };
    const visitRelations = (
      parent: Pick<NormalizedQuery, "collection" | "relations">,
      at: Pick<TrackedNode, "path" | "parents" | "isFilter">,
    ) => {
      for (const relation of parent.relations ?? []) {
        const nested = relation.query;
        const fields = readFields(
          [...forwardLinks(nested), ...whereFields(nested.where), ...nested.orderBy.map(([f]) => f), ...nested.select],
          nested.specs,
        );
        if (relation.direction === "reverse") fields.add(relation.link);
        const node = add(
          {
            path: [...at.path, relation],
            parents: [...at.parents, parent.collection],
            collection: nested.collection,
            decidesMatch: false,
            isFilter: at.isFilter,
            watch: at.path.length === 0 ? watches?.get(relation) : undefined,
          },
          fields,
        );
        visitFilters(nested.where, nested.collection, { ...node, decidesMatch: false });
        visitRelations(nested, node);
      }
    };
    visitFilters(query.where, query.collection, { path: [], parents: [], decidesMatch: true });
    visitRelations(query, { path: [], parents: [], isFilter: false });
  }

  /** Related collections to watch. */
  get collections(): string[] {
    return [...new Set(this.nodes.map((node) => node.collection))];
  }

  /**
   * The equality route of a related collection, for a root routed by its ids: when only
   * top-level reverse relations read the collection, through one link field, a related row can
   * concern the root's rows only if that link names one of their ids before or after a change.
   */
  routeOf(collection: string, rootRoute: Route | undefined): Route | undefined {
    if (rootRoute?.field !== "id") return undefined;
    const readers = this.nodes.filter((node) => node.collection === collection);
    const link = readers[0]?.path[0]?.link;
    const isRouted = readers.every(
      (node) => node.path.length === 1 && node.path[0]!.direction === "reverse" && node.path[0]!.link === link,
    );
    return isRouted && link !== undefined ? { field: link, keys: rootRoute.keys } : undefined;
  }

  /** Whether relational filters of the root's `where` read `collection` (its changes decide matches). */
  decidesMatchThrough(collection: string): boolean {
    return this.nodes.some((node) => node.decidesMatch && node.collection === collection);
  }

  /** Whether a change of a row in a related table can alter some relation's result or filter's answer. */
  canSee(table: SourceTable, row: number, change: RowChange): boolean {
    const isLivenessChange = change.wasLive !== table.isLive(row);
    for (const node of this.nodes) {
      if (node.collection !== table.name) continue;
      if (isLivenessChange || node.dependsOnEveryField || change.changedAny(node.dependencies)) return true;
    }
    return false;
  }

  /**
   * Root rows whose match or relations a change of a related row can alter. With a `meter`, the
   * parent rows each step up examines are charged to it first.
   */
  affectedRoots(table: SourceTable, row: number, change: RowChange, meter?: CostMeter): AffectedRoots {
    const isLivenessChange = change.wasLive !== table.isLive(row);
    return this.rootsOf(
      table,
      row,
      change,
      (node) => isLivenessChange || node.dependsOnEveryField || change.changedAny(node.dependencies),
      meter,
    );
  }

  /** Root rows whose match or relations depend on a row of a related table, whatever changed. */
  rootsReaching(table: SourceTable, row: number): AffectedRoots {
    return this.rootsOf(table, row, undefined, () => true);
  }

  private rootsOf(
    table: SourceTable,
    row: number,
    change: RowChange | undefined,
    concerns: (node: TrackedNode) => boolean,
    meter?: CostMeter,
  ): AffectedRoots {
    const affected = { retest: new Set<number>(), touch: new Set<number>(), throughFilter: false };
    for (const node of this.nodes) {
      if (node.collection !== table.name || !concerns(node)) continue;
      if (node.isFilter) affected.throughFilter = true;
      if (node.watch !== undefined && change !== undefined) {
        this.watchedRoots(node.watch, node.parents[0]!, table, row, change, affected.touch, meter);
        continue;
      }
      let children: Iterable<number> = [row];
      let childTable = table;
      for (let step = node.path.length - 1; step >= 0 && childTable !== undefined; step--) {
        const parentTable = this.source.table(node.parents[step]!);
        if (parentTable === undefined) {
          children = [];
          break;
        }
        const parents = new Set<number>();
        for (const child of children) {
          // Only the changed row itself has before-values; rows further up did not change.
          const childChange = step === node.path.length - 1 ? change : undefined;
          const found = parentRows(node.path[step]!, parentTable, childTable, child, childChange);
          meter?.charge(
            Array.isArray(found) ? found.length : (found as ReadonlySet<number>).size,
            node.path[step]!.link,
          );
          for (const parent of found) parents.add(parent);
        }
        children = parents;
        childTable = parentTable;
      }
      const into = node.decidesMatch ? affected.retest : affected.touch;
      for (const root of children) into.add(root);
    }
    return affected;
  }

  /** Root rows whose shown related rows a change alters, as the relation's watch finds them. */
  private watchedRoots(
    watch: RelationWatch,
    rootCollection: string,
    table: SourceTable,
    row: number,
    change: RowChange,
    into: Set<number>,
    meter: CostMeter | undefined,
  ): void {
    const rootTable = this.source.table(rootCollection);
    let found = 0;
    watch.apply(table, row, change, (id) => {
      const root = rootTable?.rowOf(id);
      if (root === undefined) return;
      found++;
      into.add(root);
    });
    meter?.charge(found, watch.relation.link);
  }
}

/** The stored fields whose change can alter the values of these fields as read. */
export function readFields(fields: readonly string[], specs: NormalizedQuery["specs"]): Set<string> {
  const read = new Set<string>();
  for (const field of fields) {
    if (field === "id") continue;
    read.add(field);
    const spec = specs[field];
    if (spec !== undefined && readDependsOnCreatedAt(spec)) read.add(CREATED_AT_FIELD);
  }
  return read;
}

/** Rows of the parent collection that a relation links to a child row. */
function parentRows(
  relation: Step,
  parentTable: SourceTable,
  childTable: SourceTable,
  child: number,
  change: RowChange | undefined,
): ReadonlySet<number> | number[] {
  if (relation.direction === "forward") {
    const childId = childTable.idOf(child);
    if (parentTable.equalityIndex) return parentTable.equalityIndex(relation.link).get(childId);
    return parentTable.liveRows().filter((parent) => {
      const linked = readStored(relation.linkSpec, parentTable.get(parent, relation.link), undefined);
      return linked === childId || (Array.isArray(linked) && linked.includes(childId));
    });
  }
  const values = [childTable.get(child, relation.link)];
  if (change?.changed(relation.link)) values.push(change.before(relation.link));
  const rows: number[] = [];
  for (const value of values) {
    for (const id of Array.isArray(value) ? value : [value]) {
      if (typeof id !== "string") continue;
      const parent = parentTable.rowOf(id);
      if (parent !== undefined) rows.push(parent);
    }
  }
  return rows;
}

/** Fields of a query's collection that its forward relations read. */
function forwardLinks(query: Pick<NormalizedQuery, "relations">): string[] {
  return (query.relations ?? [])
    .filter((relation) => relation.direction === "forward")
    .map((relation) => relation.link);
}
