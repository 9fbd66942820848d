import {
  type Condition,
  type DatabaseResult,
  decodeDocs,
  type EncodedDoc,
  encodeDocs,
  fail,
  isFieldCondition,
  type NormalizedQuery,
  ok,
  type ResultDoc,
  type Triple,
} from "@trellis/core";
import { parseSyncPayload, type SyncPayload } from "./sync/http.js";

/** What was preloaded: a query's result, its first match, or the first page of a paginated query. */
export type PreloadKind = "many" | "one" | "paginated";

/** The format marker of {@link PreloadData}; a new format gets a new marker. */
export const PRELOAD_FORMAT = "trellis/preload@1";

/** Type-level only: carries the document type through serialisation. Never present at runtime. */
declare const documentType: unique symbol;

/** Page facts of a paginated preload. */
export interface PreloadPage {
  readonly pageSize: number;
  /** Every match of the query when it was preloaded (for `estimatedTotalCount`). */
  readonly totalCount: number;
}

/**
 * Preloaded query results: plain JSON (no Dates, functions or class instances), so they survive
 * `JSON.stringify`/`JSON.parse`, `structuredClone`, React Server Component props and SvelteKit's
 * devalue. Pass them to `subscribe`, `subscribeOne` or `paginated` of the same app's client.
 *
 * @example
 * const { data: preloaded } = await client.database.users.preload({ where: { isAdult: true } });
 * client.database.users.subscribe(preloaded!, (users) => render(users)); // first call: the preloaded users
 */
export interface PreloadData<T, K extends PreloadKind = PreloadKind> {
  readonly format: typeof PRELOAD_FORMAT;
  readonly kind: K;
  /** The app (tenant) the data belongs to; a client of another app refuses it. */
  readonly appId: string;
  readonly collection: string;
  /** The normalized query (`limit: 1` for `one`, `limit: pageSize` for `paginated`). */
  readonly query: NormalizedQuery;
  /** The result documents, encoded by the preload codec (see docs/preload.md); at most one for `one`. */
  readonly data: readonly EncodedDoc[];
  /** Page size and total match count of a paginated preload; null otherwise. */
  readonly page: PreloadPage | null;
  /**
   * Where sync continues from: the server's cursor for this query, or `null` when a local-only
   * client preloaded the data.
   */
  readonly cursor: string | null;
  /**
   * The server's triples behind `data` (each document in full), which a client applies before it
   * follows the query from `cursor`; empty when a local-only client preloaded the data.
   */
  readonly triples: readonly Triple[];
  readonly [documentType]?: T;
}

/** Preloaded data read back and checked: the query, the decoded documents, page facts and where sync continues. */
export interface ParsedPreload {
  readonly kind: PreloadKind;
  readonly query: NormalizedQuery;
  readonly docs: ResultDoc[];
  readonly page: PreloadPage | null;
  readonly cursor: string | null;
  readonly triples: readonly Triple[];
}

/**
 * Whether a value claims to be preloaded data (it may still be malformed: parse it).
 *
 * @example
 * isPreloadData(input) ? followPreloaded(input) : followQuery(input)
 */
export function isPreloadData(value: unknown): value is PreloadData<unknown> {
  return typeof value === "object" && value !== null && (value as { format?: unknown }).format === PRELOAD_FORMAT;
}

/**
 * Builds preloaded data from a normalized query, its result documents and (preloaded from a
 * server) the server's answer.
 *
 * @example
 * createPreloadData("many", "my-app", query, docs, null, null) // { format, kind: "many", appId: "my-app", …, cursor: null, triples: [] }
 */
export function createPreloadData(
  kind: PreloadKind,
  appId: string,
  query: NormalizedQuery,
  docs: readonly ResultDoc[],
  page: PreloadPage | null,
  sync: SyncPayload | null,
): PreloadData<ResultDoc> {
  return {
    format: PRELOAD_FORMAT,
    kind,
    appId,
    collection: query.collection,
    query,
    data: encodeDocs(query, docs),
    page,
    cursor: sync?.cursor ?? null,
    triples: sync?.triples ?? [],
  };
}

/**
 * Checks preloaded input for a client and decodes it. The query must be exactly what this
 * client's `normalize` makes of the query it stands for, so a query from another schema, a
 * tampered one, or data that does not fit it is a VALIDATION error; so are server data
 * (a cursor) for a local-only client and malformed triples.
 *
 * @example
 * const parsed = parsePreloadData(input, { appId, collection: "users", kind: "many", hasServer: false }, (q) => normalizeQuery(spec, q, collections));
 * if (parsed.error) return parsed; // VALIDATION
 * parsed.data.docs; // Dates restored
 */
export function parsePreloadData(
  input: unknown,
  expected: { readonly appId: string; readonly collection: string; readonly kind: PreloadKind; readonly hasServer: boolean },
  normalize: (query: unknown) => DatabaseResult<NormalizedQuery>,
): DatabaseResult<ParsedPreload> {
  const where = `${expected.collection}: preloaded data`;
  if (!isPreloadData(input)) return fail("VALIDATION", `${where} must come from preload(); got something else.`);
  const { kind, appId, collection, query, data, page, cursor, triples } = input as Partial<PreloadData<unknown>>;
  if (appId !== expected.appId) {
    return fail("VALIDATION", `${where} belongs to app ${JSON.stringify(appId)}, but this client is for app ${JSON.stringify(expected.appId)}.`);
  }
  if (collection !== expected.collection) {
    return fail("VALIDATION", `${where} is for collection ${JSON.stringify(collection)}; pass it to database.${String(collection)}.`);
  }
  if (kind !== expected.kind) {
    const by = kind === "one" ? "preloadOne" : kind === "paginated" ? "preloadPaginated" : kind === "many" ? "preload" : undefined;
    const use = kind === "one" ? "subscribeOne" : kind === "paginated" ? "paginated" : kind === "many" ? "subscribe" : undefined;
    return fail("VALIDATION", by === undefined ? `${where} has an unknown kind.` : `${where} was made by ${by}(); pass it to ${use}().`);
  }
  let sync: SyncPayload | null = null;
  if (cursor !== null) {
    if (!expected.hasServer) return fail("VALIDATION", `${where} has a sync cursor, but this client has no serverUrl to sync with.`);
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
  if (canonical.error) return fail("VALIDATION", `${where} has a query this client's schema rejects: ${canonical.error.message}`);
  if (JSON.stringify(canonical.data) !== JSON.stringify(query)) {
    return fail("VALIDATION", `${where} has a query that does not match this client's schema; preload with the same schema.`);
  }
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
  const docs = decodeDocs(canonical.data, data);
  if (docs.error) return fail("VALIDATION", `${where}: ${docs.error.message}`);
  const limit = canonical.data.limit ?? Infinity;
  if (docs.data.length > limit) return fail("VALIDATION", `${where} holds more documents than its query's limit.`);
  return ok({ kind, query: canonical.data, docs: docs.data, page: checkedPage, cursor: sync?.cursor ?? null, triples: sync?.triples ?? [] });
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Normalizes again the user query a normalized query stands for; malformed input is a VALIDATION error. */
function renormalize(query: NormalizedQuery, normalize: (query: unknown) => DatabaseResult<NormalizedQuery>): DatabaseResult<NormalizedQuery> {
  try {
    return normalize(denormalize(query));
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
      const filter = { where: denormalizeWhere(nested, nestedSpecs), ...(direction === "reverse" ? { via: link } : {}) };
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
    for (const [field, filter] of Object.entries(one(condition)) as Array<[string, Record<string, unknown>]>) Object.assign((grouped[field] ??= {}), filter);
  }
  return grouped;
}

/**
 * A user query that normalizes to `query` when `query` came from the normalizer: fields in the
 * order their read rules were first needed (unselected ones as `false`), conditions regrouped
 * per field, epoch ms back to Dates for date fields.
 */
function denormalize(query: NormalizedQuery): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const field of Object.keys(query.specs)) fields[safeKey(field)] = query.select.includes(field);
  for (const relation of query.relations ?? []) {
    fields[safeKey(relation.name)] = { ...denormalize(relation.query), ...(relation.direction === "reverse" ? { via: relation.link } : {}) };
  }
  return {
    fields,
    where: denormalizeWhere(query.where, query.specs),
    orderBy: query.orderBy.map(([field, direction]) => [field, direction]),
    ...(query.limit === undefined ? {} : { limit: query.limit }),
  };
}

/** Keys from untrusted input must not reach an object's prototype. */
function safeKey(key: string): string {
  if (typeof key !== "string" || key === "__proto__") throw new TypeError("malformed key");
  return key;
}
