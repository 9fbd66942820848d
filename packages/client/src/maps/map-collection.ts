import {
  type CollectionSpec,
  type DatabaseResult,
  DEFAULT_MAX_FRAME_BYTES,
  fail,
  isJson,
  type NormalizedQuery,
  normalizeQuery,
  ok,
  RESERVED_NAME_PREFIX,
} from "@trellis/core";

/** Maps live in the reserved collection `__map_<name>`, which `createSchema` refuses to users. */
const MAP_COLLECTION_PREFIX = `${RESERVED_NAME_PREFIX}map_`;
/** The one field of a map's documents: the value, or `null` once removed. */
export const VALUE_FIELD = "value";
/** Map names: short identifiers, so `__map_<name>` is a valid protocol collection name. */
const MAP_NAME_PATTERN = /^[A-Za-z0-9_]{1,64}$/;
/** Keys are document ids, which the protocol takes up to 256 characters long. */
export const MAX_KEY_LENGTH = 256;
/** In a `u` regex a surrogate pair is one code point, so this matches only unpaired halves. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
/** Half a frame: a value's push and snapshot frames carry the triple's envelope too. */
export const MAX_VALUE_BYTES = DEFAULT_MAX_FRAME_BYTES / 2;

/** A map's reserved collection and the queries over it. */
export interface MapCollection {
  readonly spec: CollectionSpec;
  /** The entries (documents whose value is set), in key order: what reads and subscriptions show. */
  readonly entries: NormalizedQuery;
  /**
   * Every document, removed keys included: what the client syncs. A removal the server holds must
   * reach a client whose own older `set` the server refused, so the sync query cannot filter
   * removed keys out.
   */
  readonly all: NormalizedQuery;
}

/**
 * Whether a collection is a map's.
 *
 * @example
 * isMapCollection("__map_prefs"); // true
 */
export function isMapCollection(collection: string): boolean {
  return collection.startsWith(MAP_COLLECTION_PREFIX);
}

/**
 * The reserved collection of map `name`. Throws a TypeError for a bad name (a programmer error).
 *
 * @example
 * mapCollection("prefs").spec.name; // "__map_prefs"
 */
export function mapCollection(name: unknown): MapCollection {
  if (typeof name !== "string" || !MAP_NAME_PATTERN.test(name)) {
    throw new TypeError(
      `client.map: the name must be 1-64 characters of [A-Za-z0-9_], got ${JSON.stringify(name) ?? String(name)}.`,
    );
  }
  const spec: CollectionSpec = {
    name: `${MAP_COLLECTION_PREFIX}${name}`,
    fields: { [VALUE_FIELD]: { type: "json", optional: true } },
  };
  const fields = { id: true, [VALUE_FIELD]: true };
  return {
    spec,
    entries: normalizeQuery(spec, { fields, where: { [VALUE_FIELD]: { isDefined: true } } }).data!,
    all: normalizeQuery(spec, { fields }).data!,
  };
}

/**
 * Checks a key: a VALIDATION error result names what is wrong.
 * @example checkKey('map("prefs")', "set", "").error?.code; // "VALIDATION"
 */
export function checkKey(map: string, method: string, key: unknown): DatabaseResult<string> {
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    return fail(
      "VALIDATION",
      `${map}.${method}: the key must be a string of 1-${MAX_KEY_LENGTH} characters, got ${describeKey(key)}.`,
      { map },
    );
  }
  // A lone surrogate would not survive the UTF-8 of the wire and the server's storage intact.
  if (LONE_SURROGATE.test(key))
    return fail("VALIDATION", `${map}.${method}: the key contains a lone surrogate; use well-formed Unicode.`, {
      map,
      key,
    });
  return ok(key);
}

/**
 * Checks a value and copies it (so later changes to the caller's object do not leak in).
 * @example checkValue('map("prefs")', "theme", new Date()).error?.code; // "VALIDATION"
 */
export function checkValue(map: string, key: string, value: unknown): DatabaseResult<unknown> {
  if (value === null || value === undefined) {
    return fail(
      "VALIDATION",
      `${map}.set: the value of "${key}" is ${String(value)}; call remove(key) to remove a key.`,
      { map, key },
    );
  }
  if (!isJson(value)) {
    return fail(
      "VALIDATION",
      `${map}.set: the value of "${key}" must be JSON (plain objects, arrays, strings, finite numbers, booleans, null inside), at most 64 deep; convert Dates, Maps and class instances first.`,
      { map, key },
    );
  }
  const bytes = new TextEncoder().encode(JSON.stringify(value)).length;
  if (bytes > MAX_VALUE_BYTES) {
    return fail(
      "VALIDATION",
      `${map}.set: the value of "${key}" is ${bytes} bytes as JSON; the limit is ${MAX_VALUE_BYTES}.`,
      { map, key },
    );
  }
  return ok(structuredClone(value));
}

function describeKey(key: unknown): string {
  if (typeof key === "string") return key.length === 0 ? "an empty string" : `a string of ${key.length} characters`;
  return key === null ? "null" : typeof key;
}
