import {
  type Condition,
  type DatabaseResult,
  codecQuery,
  decodeDocs,
  fail,
  isFieldCondition,
  isNormalizedAggregate,
  isPreloadData,
  type NormalizedAggregateQuery,
  type NormalizedQuery,
  ok,
  type PreloadData,
  type PreloadKind,
  type PreloadPage,
  type ResultDoc,
  type Triple,
} from "@trellis/core";
import { parseSyncPayload, type SyncPayload } from "./sync/http.js";

export { isPreloadData, PRELOAD_FORMAT, type PreloadData, type PreloadKind, type PreloadPage } from "@trellis/core";

/** A normalized document or aggregate query: what preloaded data may stand for. */
export type AnyNormalizedQuery = NormalizedQuery | NormalizedAggregateQuery;

/** Preloaded data read back and checked: the query, the decoded documents, page facts and where sync continues. */
export interface ParsedPreload {
  readonly kind: PreloadKind;
  readonly query: AnyNormalizedQuery;
  /** The documents, or the rows of an aggregate query. */
  readonly docs: ResultDoc[];
  readonly page: PreloadPage | null;
  readonly cursor: string | null;
  readonly triples: readonly Triple[];
}

/**
 * Checks preloaded input for a client and decodes it. The query must be exactly what this
 * client's `normalize` makes of the query it stands for, so a query from another schema, a
 * tampered one, or data that does not fit it is a VALIDATION error; so are server data
 * (a cursor) for a local-only client or an aggregate query, and malformed triples.
 *
 * @example
 * const { data: preloaded } = await client.database.users.preload({ where: { isAdult: true } });
 * const expected = { appId, collection: "users", kind: "many", hasServer: false } as const;
 * const normalize = (query: unknown) => normalizeQuery(schema.collections.users!, query, schema.collections);
 * const parsed = parsePreloadData(preloaded, expected, normalize);
 * if (parsed.error) return parsed; // VALIDATION
 * parsed.data.docs; // Dates restored
 */
export function parsePreloadData(
  input: unknown,
  expected: {
    readonly appId: string;
    readonly collection: string;
    readonly kind: PreloadKind;
    readonly hasServer: boolean;
  },
  normalize: (query: unknown) => DatabaseResult<AnyNormalizedQuery>,
): DatabaseResult<ParsedPreload> {
  const where = `${expected.collection}: preloaded data`;
  if (!isPreloadData(input)) return fail("VALIDATION", `${where} must come from preload(); got something else.`);
  const { kind, appId, collection, query, data, page, cursor, triples } = input as Partial<PreloadData<unknown>>;
  if (appId !== expected.appId) {
    return fail(
      "VALIDATION",
      `${where} belongs to app ${JSON.stringify(appId)}, but this client is for app ${JSON.stringify(expected.appId)}.`,
    );
  }
  if (collection !== expected.collection) {
    return fail(
      "VALIDATION",
      `${where} is for collection ${JSON.stringify(collection)}; pass it to database.${String(collection)}.`,
    );
  }
  if (kind !== expected.kind) {
    const by =
      kind === "one"
        ? "preloadOne"
        : kind === "paginated"
          ? "preloadPaginated"
          : kind === "many"
            ? "preload"
            : undefined;
    const use =
      kind === "one" ? "subscribeOne" : kind === "paginated" ? "paginated" : kind === "many" ? "subscribe" : undefined;
    return fail(
      "VALIDATION",
      by === undefined ? `${where} has an unknown kind.` : `${where} was made by ${by}(); pass it to ${use}().`,
    );
  }
  let sync: SyncPayload | null = null;
  if (cursor !== null) {
    if (!expected.hasServer)
      return fail("VALIDATION", `${where} has a sync cursor, but this client has no serverUrl to sync with.`);
    const payload = parseSyncPayload({ triples, cursor }, `${where}: its cursor and triples`);
    if (payload.error) return fail("VALIDATION", payload.error.message);
    sync = payload.data;
  } else if (!Array.isArray(triples) || triples.length > 0) {
    return fail("VALIDATION", `${where} has malformed triples: a preload without a sync cursor has none.`);
  }
  if (typeof query !== "object" || query === null || query.collection !== collection) {
    return fail("VALIDATION", `${where} has no query for ${JSON.stringify(collection)}.`);
  }
  const canonical = renormalize(query, normalize);
  if (canonical.error)
    return fail("VALIDATION", `${where} has a query this client's schema rejects: ${canonical.error.message}`);
  if (JSON.stringify(canonical.data) !== JSON.stringify(query)) {
    return fail(
      "VALIDATION",
      `${where} has a query that does not match this client's schema; preload with the same schema.`,
    );
  }
  const isAggregate = isNormalizedAggregate(canonical.data);
  if (isAggregate && sync !== null)
    return fail("VALIDATION", `${where} has a sync cursor, but an aggregate preload never carries one.`);
  let checkedPage: PreloadPage | null = null;
  if (kind === "paginated") {
    const { pageSize, totalCount } = (page ?? {}) as Partial<PreloadPage>;
    if (!isCount(pageSize) || pageSize === 0 || !isCount(totalCount) || canonical.data.limit !== pageSize) {
      return fail("VALIDATION", `${where} has malformed page facts.`);
    }
    checkedPage = { pageSize, totalCount };
  } else if (page !== null) {
    return fail("VALIDATION", `${where} has page facts but is not paginated.`);
  }
  const docs = decodeDocs(codecQuery(canonical.data), data);
  if (docs.error) return fail("VALIDATION", `${where}: ${docs.error.message}`);
  const limit = canonical.data.limit ?? Infinity;
  if (docs.data.length > limit) return fail("VALIDATION", `${where} holds more rows than its query's limit.`);
  return ok({
    kind,
    query: canonical.data,
    docs: docs.data,
    page: checkedPage,
    cursor: sync?.cursor ?? null,
    triples: sync?.triples ?? [],
  });
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Normalizes again the user query a normalized query stands for; malformed input is a VALIDATION error. */
function renormalize(
  query: AnyNormalizedQuery,
  normalize: (query: unknown) => DatabaseResult<AnyNormalizedQuery>,
): DatabaseResult<AnyNormalizedQuery> {
  try {
    return normalize(isNormalizedAggregate(query) ? denormalizeAggregate(query) : denormalize(query));
  } catch {
    return fail("VALIDATION", "the query is malformed.");
  }
}

/**
 * A user `where` that normalizes to `where`: field conditions regrouped per field; with `or` or
 * `not` among them, every condition as its own entry of an `and`, so their order is kept.
 */
function denormalizeWhere(where: readonly Condition[], specs: NormalizedQuery["specs"]): Record<string, unknown> {
  const one = (condition: Condition): Record<string, unknown> => {
    if ("or" in condition) return { or: condition.or.map((branch) => denormalizeWhere(branch, specs)) };
    if ("not" in condition) return { not: denormalizeWhere(condition.not, specs) };
    if ("related" in condition) {
      const { direction, link, collection, where: nested, specs: nestedSpecs } = condition.related;
      const filter = {
        where: denormalizeWhere(nested, nestedSpecs),
        ...(direction === "reverse" ? { via: link } : {}),
      };
      return { [safeKey(direction === "forward" ? link : collection)]: filter };
    }
    const { field, op, operand } = condition;
    safeKey(field);
    safeKey(op);
    const isDate = specs[field]?.type === "date" && op !== "isDefined" && op !== "isUndefined";
    const toUser = (value: unknown) => (isDate && typeof value === "number" ? new Date(value) : value);
    return { [field]: { [op]: Array.isArray(operand) ? operand.map(toUser) : toUser(operand) } };
  };
  if (where.some((condition) => !isFieldCondition(condition))) return { and: where.map(one) };
  const grouped: Record<string, Record<string, unknown>> = {};
  for (const condition of where) {
    for (const [field, filter] of Object.entries(one(condition)) as Array<[string, Record<string, unknown>]>)
      Object.assign((grouped[field] ??= {}), filter);
  }
  return grouped;
}

/**
 * A user query that normalizes to `query` when `query` came from the normalizer: selected fields
 * and forward relations in the order their read rules were first needed (so the specs come out in
 * the same order; the others' rules are needed by `where` and `orderBy` again, after them), then
 * reverse relations, conditions regrouped per field, epoch ms back to Dates for date fields.
 */
function denormalize(query: NormalizedQuery): Record<string, unknown> {
  const relations = new Map((query.relations ?? []).map((relation) => [relation.name, relation]));
  const fields: Record<string, unknown> = {};
  for (const field of Object.keys(query.specs)) {
    const relation = relations.get(field);
    if (relation !== undefined) fields[safeKey(field)] = denormalizeRelation(relation);
    else if (query.select.includes(field)) fields[safeKey(field)] = true;
  }
  for (const [name, relation] of relations) {
    if (!Object.hasOwn(fields, name)) fields[safeKey(name)] = denormalizeRelation(relation);
  }
  return {
    fields,
    where: denormalizeWhere(query.where, query.specs),
    orderBy: query.orderBy.map(([field, direction]) => [field, direction]),
    ...(query.limit === undefined ? {} : { limit: query.limit }),
  };
}

function denormalizeRelation(relation: NonNullable<NormalizedQuery["relations"]>[number]): Record<string, unknown> {
  return { ...denormalize(relation.query), ...(relation.direction === "reverse" ? { via: relation.link } : {}) };
}

/** A user aggregate query that normalizes to `query` when `query` came from the normalizer. */
function denormalizeAggregate(query: NormalizedAggregateQuery): Record<string, unknown> {
  const aggregations: Record<string, unknown> = {};
  for (const { name, fn, field } of query.aggregations) aggregations[safeKey(name)] = { [safeKey(fn)]: field ?? "*" };
  return {
    aggregations,
    groupBy: query.groupBy,
    where: denormalizeWhere(query.where, query.specs),
    orderBy: query.orderBy.map(([name, direction]) => [name, direction]),
    ...(query.limit === undefined ? {} : { limit: query.limit }),
  };
}

/** Keys from untrusted input must not reach an object's prototype. */
function safeKey(key: string): string {
  if (typeof key !== "string" || key === "__proto__") throw new TypeError("malformed key");
  return key;
}
