import {
  compileWhere,
  type Condition,
  type NormalizedQuery,
  relatedFilters,
  type RowTest,
  type TripleStore,
} from "@trellis/core";
import type { Permissions, RuleUser } from "./permissions/permissions.js";

/**
 * Whether `user` may read a document as the replica holds it now. A deleted or unknown one
 * counts as readable: its tombstone tells a client holding it that it is gone.
 *
 * @example
 * ```ts
 * const isReadable = canRead(undefined, store, { id: userId, claims: {} }, "todos", "t1");
 * ```
 */
export function canRead(
  permissions: Permissions | undefined,
  store: TripleStore,
  user: RuleUser,
  collection: string,
  id: string,
  tests: Map<string, boolean | RowTest> = new Map(),
): boolean {
  if (permissions === undefined || !permissions.isEnforced || user.isPrivileged === true) return true;
  let test = tests.get(collection);
  if (test === undefined) {
    const readable = permissions.readConditions(collection, user);
    tests.set(collection, (test = typeof readable === "boolean" ? readable : compileWhere(readable, {}, store)));
  }
  if (typeof test === "boolean") return test;
  const table = store.table(collection);
  const row = table?.rowOf(id);
  return row === undefined || test(table!, row);
}

/**
 * The query as `user` may run it: at every level whose collection the user may not read, a
 * condition no document meets, so those documents read as missing (an empty result, or
 * relations without them).
 *
 * @example
 * ```ts
 * const asUser = readableQuery(undefined, normalized, { id: userId, claims: {} });
 * ```
 */
export function readableQuery(
  permissions: Permissions | undefined,
  query: NormalizedQuery,
  user: RuleUser,
): NormalizedQuery {
  if (permissions === undefined || !permissions.isEnforced || user.isPrivileged === true) return query;
  const ruleOf = (collection: string): Condition[] => {
    const readable = permissions.readConditions(collection, user);
    return readable === true ? [] : readable === false ? [{ or: [] }] : readable;
  };
  // A relational filter sees only documents the user may read: it cannot probe the others.
  const restrictFilters = (where: readonly Condition[]): Condition[] =>
    where.map((condition) => {
      if ("or" in condition) return { or: condition.or.map(restrictFilters) };
      if ("not" in condition) return { not: restrictFilters(condition.not) };
      if (!("related" in condition)) return condition;
      const { related } = condition;
      return { related: { ...related, where: [...restrictFilters(related.where), ...ruleOf(related.collection)] } };
    });
  const restrict = (level: NormalizedQuery): NormalizedQuery => {
    const where = [...restrictFilters(level.where), ...ruleOf(level.collection)];
    const relations = level.relations?.map((relation) => ({ ...relation, query: restrict(relation.query) }));
    return relations === undefined ? { ...level, where } : { ...level, where, relations };
  };
  return restrict(query);
}

/**
 * The query a subscription's group runs: one with no limit, window or relations is run as
 * asked and shared by every subscriber, each sent only the documents it may read (its result is
 * every match, so leaving out unreadable ones leaves exactly what the rule allows); any other
 * runs with the user's read rules in it, since its window (or what its relational filters may
 * see) depends on what the user may read.
 *
 * @example
 * ```ts
 * const { query, isFiltered } = groupQuery(undefined, normalized, { id: userId, claims: {} });
 * ```
 */
export function groupQuery(
  permissions: Permissions | undefined,
  query: NormalizedQuery,
  user: RuleUser,
): { query: NormalizedQuery; isFiltered: boolean } {
  const isEnforced = permissions?.isEnforced ?? false;
  const isShareable =
    query.limit === undefined &&
    query.relations === undefined &&
    query.after === undefined &&
    query.before === undefined &&
    relatedFilters(query.where).length === 0;
  return isEnforced && isShareable
    ? { query, isFiltered: true }
    : { query: readableQuery(permissions, query, user), isFiltered: false };
}
