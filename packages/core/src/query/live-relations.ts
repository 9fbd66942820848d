import { readStored } from "../schema/read.js";
import type { RowChange } from "../store/table.js";
import { CREATED_AT_FIELD } from "../triples.js";
import { type NormalizedQuery, type NormalizedRelation, whereFields } from "./query.js";
import { readDependsOnCreatedAt } from "./read-field.js";
import type { Source, SourceTable } from "./source.js";

/** One relation reachable from the root query, with the chain of relations leading to it. */
interface RelationNode {
  /** Relations from the root down to this one. */
  readonly path: readonly NormalizedRelation[];
  /** Collection of each path step's parent (path[i]'s parent is parents[i]). */
  readonly parents: readonly string[];
  /** Fields of the related collection whose change can alter what this relation returns. */
  readonly dependencies: ReadonlySet<string>;
  readonly dependsOnEveryField: boolean;
}

/**
 * Follows the collections a live query's relations read, and maps a change there back to the
 * root rows whose materialized relations it can alter: through the link field's equality index
 * for forward links (parents whose ref holds the child's id) and through the child's link value,
 * before and after the change, for reverse links.
 */
export class RelationTracker {
  private readonly nodes: RelationNode[] = [];
  /** Fields of the root collection that relations read (forward link fields). */
  readonly rootLinkFields: readonly string[];

  constructor(
    private readonly query: NormalizedQuery,
    private readonly source: Source,
  ) {
    this.rootLinkFields = forwardLinks(query);
    const visit = (parent: NormalizedQuery, path: NormalizedRelation[], parents: string[]) => {
      for (const relation of parent.relations ?? []) {
        const nested = relation.query;
        const fields = new Set<string>(forwardLinks(nested));
        for (const field of [...whereFields(nested.where), ...nested.orderBy.map(([f]) => f), ...nested.select]) {
          if (field === "id") continue;
          fields.add(field);
          const spec = nested.specs[field];
          if (spec !== undefined && readDependsOnCreatedAt(spec)) fields.add(CREATED_AT_FIELD);
        }
        if (relation.direction === "reverse") fields.add(relation.link);
        const node = {
          path: [...path, relation],
          parents: [...parents, parent.collection],
          dependencies: fields,
          dependsOnEveryField: fields.has("updatedAt"),
        };
        this.nodes.push(node);
        visit(nested, node.path, node.parents);
      }
    };
    visit(query, [], []);
  }

  /** Related collections to watch. */
  get collections(): string[] {
    return [...new Set(this.nodes.map((node) => node.path.at(-1)!.query.collection))];
  }

  /** Whether a change of a row in a related table can alter some relation's result. */
  canSee(table: SourceTable, row: number, change: RowChange): boolean {
    const isLivenessChange = change.wasLive !== table.isLive(row);
    for (const node of this.nodes) {
      if (node.path.at(-1)!.query.collection !== table.name) continue;
      if (isLivenessChange || node.dependsOnEveryField || change.changedAny(node.dependencies)) return true;
    }
    return false;
  }

  /** Root rows whose relations a change of a related row can alter. */
  affectedRoots(table: SourceTable, row: number, change: RowChange): Set<number> {
    const roots = new Set<number>();
    const isLivenessChange = change.wasLive !== table.isLive(row);
    for (const node of this.nodes) {
      if (node.path.at(-1)!.query.collection !== table.name) continue;
      if (!isLivenessChange && !node.dependsOnEveryField && !change.changedAny(node.dependencies)) continue;
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
          for (const parent of parentRows(node.path[step]!, parentTable, childTable, child, childChange)) parents.add(parent);
        }
        children = parents;
        childTable = parentTable;
      }
      for (const root of children) roots.add(root);
    }
    return roots;
  }
}

/** Rows of the parent collection that a relation links to a child row. */
function parentRows(
  relation: NormalizedRelation,
  parentTable: SourceTable,
  childTable: SourceTable,
  child: number,
  change: RowChange | undefined,
): Iterable<number> {
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
function forwardLinks(query: NormalizedQuery): string[] {
  return (query.relations ?? []).filter((relation) => relation.direction === "forward").map((relation) => relation.link);
}
