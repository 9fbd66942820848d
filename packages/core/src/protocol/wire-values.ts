import type { DatabaseErrorCode } from "../errors.js";
import { decodeHlc } from "../hlc.js";
import { ID_RULE, isId } from "../ids.js";
import { DELETED_FIELD, type DocumentRef, type Triple } from "../triples.js";
import { containersOf, MAX_VALUE_CONTAINERS } from "./json-shape.js";
import { describe, Invalid, object, readKnownKeys, readRecord, schema, type WireSchema } from "./wire-schema.js";

/** Collection and field names: the pattern of `createSchema`. */
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/**
 * Keys that could reach an object's prototype; refused anywhere in a frame.
 *
 * @example FORBIDDEN_KEYS.has("__proto__") // true
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);
/** Document ids, set elements, user ids, cursors. */
export const MAX_STRING_ID = 256;
const MAX_TOKEN = 16 * 1024;
/**
 * How deep a JSON value (a field value, an operand, room data) may nest: the limit the client's
 * `t.json` validation enforces, so whatever a client accepts the server accepts. Deeper values
 * would overflow the stack of recursive code that later serializes or compares them.
 */
export const MAX_VALUE_DEPTH = 64;
/** Keys of one status object (a room's or a user's status, or part of one). */
const MAX_STATUS_KEYS = 64;
/** Users listed in one `roomState`. */
const MAX_ROOM_USERS = 100_000;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A string of 1 to `max` UTF-16 code units, well formed.
 *
 * @example readString(raw.id, "id", MAX_STRING_ID)
 */
export function readString(value: unknown, path: string, max: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    throw new Invalid(path, `expected a string of 1-${max} characters, got ${describe(value)}`);
  }
  // SQLite and UTF-8 cannot hold a lone surrogate: such an id would be stored altered.
  if (LONE_SURROGATE.test(value))
    throw new Invalid(path, "expected well-formed text, got a string with a lone UTF-16 surrogate");
  return value;
}

/**
 * Whether a JSON value nests deeper than {@link MAX_VALUE_DEPTH} (the root is at depth 0; every
 * value inside an array or object is one deeper), checked without recursion.
 *
 * @example exceedsValueDepth(JSON.parse(storedText)) // true: do not serve it
 */
export function exceedsValueDepth(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const stack: Array<[object, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [each, depth] = stack.pop()!;
    for (const child of Array.isArray(each) ? each : Object.values(each)) {
      if (depth + 1 > MAX_VALUE_DEPTH) return true;
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * A JSON value nested at most {@link MAX_VALUE_DEPTH} deep, holding at most {@link MAX_VALUE_CONTAINERS} arrays and objects.
 *
 * @example readJsonValue(raw.operand, "operand")
 */
export function readJsonValue(value: unknown, path: string): unknown {
  if (exceedsValueDepth(value)) throw new Invalid(path, `values nest at most ${MAX_VALUE_DEPTH} deep`);
  if (containersOf(value, MAX_VALUE_CONTAINERS) > MAX_VALUE_CONTAINERS)
    throw new Invalid(path, `values hold at most ${MAX_VALUE_CONTAINERS} arrays and objects`);
  return value;
}

/**
 * A collection or field name that cannot reach a prototype.
 *
 * @example readName(raw.collection, "collection")
 */
export function readName(value: unknown, path: string): string {
  if (typeof value !== "string" || !NAME_PATTERN.test(value) || FORBIDDEN_KEYS.has(value)) {
    throw new Invalid(
      path,
      `expected a collection or field name (letters, digits, _; not starting with a digit), got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * One of a set of strings.
 *
 * @example readOneOf(raw.op, "op", OPERATORS)
 */
export function readOneOf<T extends string>(value: unknown, path: string, allowed: ReadonlySet<T>): T {
  if (typeof value !== "string" || !allowed.has(value as T)) {
    throw new Invalid(path, `expected one of ${[...allowed].join(", ")}, got ${describe(value)}`);
  }
  return value as T;
}

function readHlc(value: unknown, path: string): string {
  const decoded = decodeHlc(value);
  if (decoded.error) throw new Invalid(path, decoded.error.message);
  return value as string;
}

/**
 * A string of 1 to `max` characters.
 *
 * @example object({ userId: text(MAX_STRING_ID) })
 */
/* @__NO_SIDE_EFFECTS__ */
export function text(max: number): WireSchema<string> {
  return schema((value, path) => readString(value, path, max));
}

/**
 * A string of one of the values of `allowed`.
 *
 * @example oneOf(new Set(["asc", "desc"]))
 */
/* @__NO_SIDE_EFFECTS__ */
export function oneOf<T extends string>(allowed: ReadonlySet<T>): WireSchema<T> {
  return schema((value, path) => readOneOf(value, path, allowed));
}

/** An id of the client's choosing (app, client, query, batch): {@link ID_RULE}. */
export const id: WireSchema<string> = schema((value, path) => {
  if (!isId(value)) throw new Invalid(path, `expected ${ID_RULE}, got ${describe(value)}`);
  return value;
});

/** A collection, field or event name. */
export const name: WireSchema<string> = schema(readName);
/** A server cursor: opaque to the client. */
export const cursor: WireSchema<string> = text(MAX_STRING_ID);
/** A user id. */
export const userId: WireSchema<string> = text(MAX_STRING_ID);
/** A JWT. */
export const token: WireSchema<string> = text(MAX_TOKEN);
/** An encoded HLC. */
export const hlc: WireSchema<string> = schema(readHlc);
/** Any JSON value, within the depth and size limits of stored values. */
export const jsonValue: WireSchema<unknown> = schema(readJsonValue);

/** A whole number >= 0. */
export const count: WireSchema<number> = schema((value, path) => {
  if (!Number.isSafeInteger(value) || (value as number) < 0)
    throw new Invalid(path, `expected a whole number >= 0, got ${describe(value)}`);
  return value as number;
});

/** Any string (empty too), as error texts are. */
export const anyString: WireSchema<string> = schema((value, path) => {
  if (typeof value !== "string") throw new Invalid(path, `expected a string, got ${describe(value)}`);
  return value;
});

const ERROR_CODES = new Set<DatabaseErrorCode>([
  "VALIDATION",
  "NOT_FOUND",
  "UNAUTHORIZED",
  "STORAGE",
  "NETWORK",
  "CLOCK_DRIFT",
  "PROTOCOL",
  "INTERNAL",
]);

/** A {@link DatabaseErrorCode}. */
export const errorCode: WireSchema<DatabaseErrorCode> = oneOf(ERROR_CODES);

/** A JSON object within the limits of {@link jsonValue}. */
export const details: WireSchema<Readonly<Record<string, unknown>>> = schema((value, path) =>
  readRecord(readJsonValue(value, path), path),
);

/** The protocol version a peer speaks: only this one. */
/* @__NO_SIDE_EFFECTS__ */
export function protocolVersion(version: number): WireSchema<number> {
  return schema((value, path) => {
    if (value !== version)
      throw new Invalid(path, `this peer speaks protocol version ${version}, got ${describe(value)}`);
    return version;
  });
}

/**
 * Reads one triple: a field value, a set element's presence, or a tombstone. Written out by hand,
 * not composed: its fields depend on each other, and a batch holds thousands.
 */
function readTriple(value: unknown, path: string): Triple {
  const raw = readKnownKeys(value, path, TRIPLE_KEYS);
  const collection = readName(raw.collection, `${path}.collection`);
  const docId = readString(raw.id, `${path}.id`, MAX_STRING_ID);
  const field = raw.field === DELETED_FIELD ? DELETED_FIELD : readName(raw.field, `${path}.field`);
  const stamp = readHlc(raw.hlc, `${path}.hlc`);
  if (!Object.hasOwn(raw, "value")) throw new Invalid(`${path}.value`, "missing (null means removed)");
  const tripleValue = readJsonValue(raw.value, `${path}.value`);
  if (field === DELETED_FIELD) {
    if (raw.element !== undefined) throw new Invalid(`${path}.element`, `a ${DELETED_FIELD} triple has no element`);
    if (tripleValue !== true)
      throw new Invalid(
        `${path}.value`,
        `a ${DELETED_FIELD} triple must carry true (deletes cannot be undone), got ${describe(tripleValue)}`,
      );
    return { collection, id: docId, field, value: true, hlc: stamp };
  }
  if (raw.element !== undefined) {
    const element = readString(raw.element, `${path}.element`, MAX_STRING_ID);
    if (typeof tripleValue !== "boolean")
      throw new Invalid(`${path}.value`, `a set element triple carries true or false, got ${describe(tripleValue)}`);
    return { collection, id: docId, field, value: tripleValue, hlc: stamp, element };
  }
  return { collection, id: docId, field, value: tripleValue, hlc: stamp };
}

const TRIPLE_KEYS: readonly string[] = ["collection", "id", "field", "value", "hlc", "element"];

/** One triple (see {@link Triple}). */
export const triple: WireSchema<Triple> = schema(readTriple);

/** Names a document. */
export const documentRef: WireSchema<DocumentRef> = object({
  collection: name,
  id: text(MAX_STRING_ID),
});

/** A room id: "" for the app-wide room, else 1-256 characters. */
export const roomId: WireSchema<string> = schema((value, path) => {
  if (value === "") return "";
  if (typeof value !== "string" || value.length > MAX_STRING_ID) {
    throw new Invalid(
      path,
      `expected "" (the app-wide room) or a string of 1-${MAX_STRING_ID} characters, got ${describe(value)}`,
    );
  }
  return readString(value, path, MAX_STRING_ID);
});

/** A status object: at most 64 keys, each a name; values are any JSON (null removes a key in updates). */
function readStatus(value: unknown, path: string): Readonly<Record<string, unknown>> {
  const raw = readRecord(value, path);
  const keys = Object.keys(raw);
  if (keys.length > MAX_STATUS_KEYS)
    throw new Invalid(path, `a status has at most ${MAX_STATUS_KEYS} keys, got ${keys.length}`);
  for (const key of keys) {
    readName(key, `${path} key`);
    readJsonValue(raw[key], `${path}.${key}`);
  }
  return raw;
}

/** A room or user status, or a part of one. */
export const status: WireSchema<Readonly<Record<string, unknown>>> = schema(readStatus);

/** Every member's status, by user id. */
export const roomUsers: WireSchema<Readonly<Record<string, Readonly<Record<string, unknown>>>>> = schema(
  (value, path) => {
    const raw = readRecord(value, path);
    const entries = Object.entries(raw);
    if (entries.length > MAX_ROOM_USERS)
      throw new Invalid(path, `at most ${MAX_ROOM_USERS} users, got ${entries.length}`);
    const out: Record<string, Readonly<Record<string, unknown>>> = {};
    for (const [user, each] of entries)
      out[readString(user, `${path} key`, MAX_STRING_ID)] = readStatus(each, `${path}.${user}`);
    return out;
  },
);
