import type { FieldSpec } from "../schema/field.js";

/** Filter operators of `where`. */
export type Operator =
  | "equals"
  | "notEquals"
  | "contains"
  | "startsWith"
  | "endsWith"
  | "greaterThan"
  | "greaterThanOrEqual"
  | "lessThan"
  | "lessThanOrEqual"
  | "in"
  | "notIn"
  | "isDefined"
  | "isUndefined";

/** Every filter operator, for validation at the API and protocol boundaries. */
export const OPERATORS: ReadonlySet<Operator> = new Set<Operator>([
  "equals",
  "notEquals",
  "contains",
  "startsWith",
  "endsWith",
  "greaterThan",
  "greaterThanOrEqual",
  "lessThan",
  "lessThanOrEqual",
  "in",
  "notIn",
  "isDefined",
  "isUndefined",
]);

/** A test of one field: operand in comparable form (dates as epoch ms). */
export interface FieldCondition {
  readonly field: string;
  readonly op: Operator;
  readonly operand: unknown;
  /**
   * How this test alone reads its field, when not as the query's `specs` say: a condition the
   * server adds for a permission rule reads fields its own way, whatever specs the client sent.
   * Never accepted from clients.
   */
  readonly spec?: FieldSpec;
}

/** At least one of its branches holds; a branch holds when all its conditions do. */
export interface AnyCondition {
  readonly or: ReadonlyArray<readonly Condition[]>;
}

/** Its conditions do not all hold. */
export interface NotCondition {
  readonly not: readonly Condition[];
}

/**
 * A document is linked to at least one live document of another collection that matches a
 * filter (see {@link RelatedFilter}).
 */
export interface RelatedCondition {
  readonly related: RelatedFilter;
}

/**
 * How a relational filter reaches the documents it tests, and the filter they must match.
 * - `forward`: the row's `link` field (a `t.ref` or `t.refMany`) names documents of `collection`.
 * - `reverse`: documents of `collection` whose `link` field holds the row's id.
 * An empty `where` asks only that such a document exists.
 */
export interface RelatedFilter {
  readonly direction: "forward" | "reverse";
  readonly link: string;
  /** Read rule of the link field (in the row's collection for forward links, in `collection` for reverse). */
  readonly linkSpec: FieldSpec;
  readonly collection: string;
  readonly where: readonly Condition[];
  /** Read rules of the fields `where` references in `collection`. */
  readonly specs: Readonly<Record<string, FieldSpec>>;
  /**
   * Added by the server for a permission rule: what it reaches is not sent to clients (they do
   * not evaluate rules). Never accepted from clients.
   */
  readonly isRule?: true;
}

/** One condition of a normalized `where` (all of a `where`'s conditions must hold). */
export type Condition = FieldCondition | AnyCondition | NotCondition | RelatedCondition;

/** Whether a condition tests one field (rather than combining others). */
export function isFieldCondition(condition: Condition): condition is FieldCondition {
  return "field" in condition;
}

/**
 * Every field of its own collection a `where` reads, in `or` and `not` too, each once: the link
 * field of a forward relational filter counts, the fields of the documents it reaches do not
 * (see {@link relatedFilters}).
 *
 * @example whereFields([{ or: [[{ field: "a", op: "equals", operand: 1 }], [{ field: "b", op: "isDefined", operand: true }]] }]) // ["a", "b"]
 */
export function whereFields(where: readonly Condition[]): string[] {
  const fields = new Set<string>();
  const visit = (conditions: readonly Condition[]) => {
    for (const condition of conditions) {
      if (isFieldCondition(condition)) fields.add(condition.field);
      else if ("or" in condition) for (const branch of condition.or) visit(branch);
      else if ("not" in condition) visit(condition.not);
      else if (condition.related.direction === "forward") fields.add(condition.related.link);
    }
  };
  visit(where);
  return [...fields];
}

/**
 * The relational filters of a `where` at its own level (in `or` and `not` too), with whether each
 * sits under an odd number of `not`s (then every linked document matters, not only one match).
 * Filters nested in their `where`s are not included.
 */
export function relatedFilters(
  where: readonly Condition[],
): Array<{ readonly filter: RelatedFilter; readonly isNegated: boolean }> {
  const found: Array<{ filter: RelatedFilter; isNegated: boolean }> = [];
  const visit = (conditions: readonly Condition[], isNegated: boolean) => {
    for (const condition of conditions) {
      if (isFieldCondition(condition)) continue;
      if ("or" in condition) for (const branch of condition.or) visit(branch, isNegated);
      else if ("not" in condition) visit(condition.not, !isNegated);
      else found.push({ filter: condition.related, isNegated });
    }
  };
  visit(where, false);
  return found;
}

/** Sort direction. */
export type Direction = "asc" | "desc";

/**
 * A query checked against the schema and reduced to plain JSON: what the engine runs, what a
 * live query is keyed by, and what crosses the wire to the server (which has no schema, so the
 * read rules of each field referenced travel along in `specs`).
 */
export interface NormalizedQuery {
  readonly collection: string;
  /** Fields to return, in order (auto fields included when asked for). */
  readonly select: readonly string[];
  readonly where: readonly Condition[];
  readonly orderBy: ReadonlyArray<readonly [field: string, direction: Direction]>;
  readonly limit: number | undefined;
  /** Read rules of every field the query references. */
  readonly specs: Readonly<Record<string, FieldSpec>>;
  /** Related documents to return with each result (absent when none). */
  readonly relations?: readonly NormalizedRelation[];
  /** Keyset pagination: only matches strictly after this cursor, `limit` of them from there. */
  readonly after?: Cursor;
  /** Keyset pagination: only matches strictly before this cursor, the `limit` closest to it. */
  readonly before?: Cursor;
}

/**
 * A position in a query's total order, as plain JSON: the sort keys of a document (one per
 * `orderBy` entry, in comparable form: dates as epoch ms, `null` for a missing value) and its id,
 * which breaks ties. The document itself need not exist any more.
 */
export interface Cursor {
  readonly keys: readonly unknown[];
  readonly id: string;
}

/**
 * A relation selected in `fields`: how to find the related documents of a parent row, and the
 * nested query they must satisfy.
 * - `forward`: the parent's `link` field (a `t.ref` or `t.refMany`) holds the related ids.
 * - `reverse`: the related documents' `link` field holds the parent's id.
 */
export interface NormalizedRelation {
  /** The key of the relation in result documents. */
  readonly name: string;
  /** `one` reads as a document or undefined; `many` as an array. */
  readonly cardinality: "one" | "many";
  readonly direction: "forward" | "reverse";
  readonly link: string;
  /** Read rule of the link field (in the parent for forward links, in the child for reverse). */
  readonly linkSpec: FieldSpec;
  readonly query: NormalizedQuery;
}

/** Read rules of the auto fields. */
export const AUTO_FIELD_SPECS: Readonly<Record<string, FieldSpec>> = {
  id: { type: "string", optional: false },
  createdAt: { type: "date", optional: true },
  updatedAt: { type: "date", optional: false },
  createdBy: { type: "string", optional: true },
};

/** The read rule of a schema or auto field of a collection, or undefined for an unknown name. */
export function fieldSpecOf(
  collection: { readonly fields: Readonly<Record<string, FieldSpec>> },
  field: string,
): FieldSpec | undefined {
  if (Object.hasOwn(collection.fields, field)) return collection.fields[field];
  return Object.hasOwn(AUTO_FIELD_SPECS, field) ? AUTO_FIELD_SPECS[field] : undefined;
}

/** The collections a query reads: its own and those of its relations and relational filters, at any depth. */
export function collectionsOf(query: NormalizedQuery): Set<string> {
  return new Set([query.collection, ...linkedCollectionsOf(query)]);
}

/** The collections a query reads through its relations and relational filters, at any depth (its own too if they reach it). */
export function linkedCollectionsOf(query: Pick<NormalizedQuery, "where" | "relations">): Set<string> {
  const collections = new Set<string>();
  const addFilters = (where: readonly Condition[]) => {
    for (const { filter } of relatedFilters(where)) {
      collections.add(filter.collection);
      addFilters(filter.where);
    }
  };
  addFilters(query.where);
  for (const relation of query.relations ?? [])
    for (const collection of collectionsOf(relation.query)) collections.add(collection);
  return collections;
}
