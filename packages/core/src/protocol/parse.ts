import { type DatabaseErrorCode, type DatabaseResult, fail, ok } from "../errors.js";
import { decodeHlc } from "../hlc.js";
import {
  type Condition,
  type Cursor,
  type Direction,
  type FieldCondition,
  type NormalizedQuery,
  type NormalizedRelation,
  OPERATORS,
  type RelatedFilter,
  whereFields,
} from "../query/normalized-query.js";
import type { FieldSpec, FieldType } from "../schema/field.js";
import { DELETED_FIELD, type DocumentRef, type Triple } from "../triples.js";
import { containersOf, jsonShapeProblem, MAX_VALUE_CONTAINERS } from "./json-shape.js";
import { ID_RULE, isId } from "../ids.js";
import {
  type ClientMessage,
  DEFAULT_MAX_FRAME_BYTES,
  helloMessage,
  MAX_HELD_IDS,
  PROTOCOL_VERSION,
  type RoomAddress,
  type ServerMessage,
  type StatusValues,
} from "./messages.js";

/** Limits of {@link parseClientMessage} / {@link parseServerMessage}. */
export interface ParseLimits {
  /** Largest accepted frame in UTF-8 bytes. Default 1 MiB. */
  readonly maxBytes?: number;
}

/** Collection and field names: the pattern of `createSchema`. */
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Keys that could reach an object's prototype; refused anywhere in a frame. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
const MAX_STRING_ID = 256; // document ids, set elements, user ids, cursors
const MAX_TOKEN = 16 * 1024;
/** Nesting limit of relations (the one `normalizeQuery` enforces) and of object/array specs. */
const MAX_DEPTH = 8;
/**
 * How deep a JSON value (a field value, an operand, room data) may nest: the limit the client's
 * `t.json` validation enforces, so whatever a client accepts the server accepts. Deeper values
 * would overflow the stack of recursive code that later serializes or compares them.
 */
export const MAX_VALUE_DEPTH = 64;
/** Relations in one query, at every level together: each one multiplies the work of a result. */
const MAX_RELATIONS = 32;
/** Conditions, selected fields and sort keys of one query level. */
const MAX_CONDITIONS = 64;
const MAX_FIELDS = 512;
const MAX_ORDER_KEYS = 16;

const FIELD_TYPES = new Set<FieldType>([
  "string",
  "number",
  "boolean",
  "date",
  "json",
  "ref",
  "refMany",
  "object",
  "array",
]);
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

/** Where a check failed; caught at the boundary and turned into a PROTOCOL error. */
class Invalid {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {}
}

type Obj = Record<string, unknown>;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string")
    return value.length > 40 ? `a string "${value.slice(0, 40)}…"` : `the string ${JSON.stringify(value)}`;
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

function record(value: unknown, path: string): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Invalid(path, `expected an object, got ${describe(value)}`);
  return value as Obj;
}

function object(value: unknown, path: string, allowed: readonly string[]): Obj {
  record(value, path);
  for (const key of Object.keys(value as Obj)) {
    if (!allowed.includes(key))
      throw new Invalid(path, `unknown key ${JSON.stringify(key)} (expected ${allowed.join(", ")})`);
  }
  return value as Obj;
}

function array(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new Invalid(path, `expected an array, got ${describe(value)}`);
  return value;
}

function string(value: unknown, path: string, max: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    throw new Invalid(path, `expected a string of 1-${max} characters, got ${describe(value)}`);
  }
  // SQLite and UTF-8 cannot hold a lone surrogate: such an id would be stored altered.
  if (LONE_SURROGATE.test(value))
    throw new Invalid(path, "expected well-formed text, got a string with a lone UTF-16 surrogate");
  return value;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

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

/** A JSON value nested at most {@link MAX_VALUE_DEPTH} deep, holding at most {@link MAX_VALUE_CONTAINERS} arrays and objects. */
function jsonValue(value: unknown, path: string): unknown {
  if (exceedsValueDepth(value)) throw new Invalid(path, `values nest at most ${MAX_VALUE_DEPTH} deep`);
  if (containersOf(value, MAX_VALUE_CONTAINERS) > MAX_VALUE_CONTAINERS)
    throw new Invalid(path, `values hold at most ${MAX_VALUE_CONTAINERS} arrays and objects`);
  return value;
}

function list(value: unknown, path: string, max: number, what: string): readonly unknown[] {
  const raw = array(value, path);
  if (raw.length > max) throw new Invalid(path, `at most ${max} ${what}, got ${raw.length}`);
  return raw;
}

function id(value: unknown, path: string): string {
  if (!isId(value)) {
    throw new Invalid(path, `expected ${ID_RULE}, got ${describe(value)}`);
  }
  return value;
}

function name(value: unknown, path: string): string {
  if (typeof value !== "string" || !NAME_PATTERN.test(value) || FORBIDDEN_KEYS.has(value)) {
    throw new Invalid(
      path,
      `expected a collection or field name (letters, digits, _; not starting with a digit), got ${describe(value)}`,
    );
  }
  return value;
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") throw new Invalid(path, `expected true or false, got ${describe(value)}`);
  return value;
}

function oneOf<T extends string>(value: unknown, path: string, allowed: ReadonlySet<T>): T {
  if (typeof value !== "string" || !allowed.has(value as T)) {
    throw new Invalid(path, `expected one of ${[...allowed].join(", ")}, got ${describe(value)}`);
  }
  return value as T;
}

function hlc(value: unknown, path: string): string {
  const decoded = decodeHlc(value);
  if (decoded.error) throw new Invalid(path, decoded.error.message);
  return value as string;
}

function count(value: unknown, path: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0)
    throw new Invalid(path, `expected a whole number >= 0, got ${describe(value)}`);
  return value as number;
}

function cursorString(value: unknown, path: string): string {
  return string(value, path, MAX_STRING_ID);
}

// ---- triples ----

function triple(value: unknown, path: string): Triple {
  const raw = object(value, path, ["collection", "id", "field", "value", "hlc", "element"]);
  const collection = name(raw.collection, `${path}.collection`);
  const docId = string(raw.id, `${path}.id`, MAX_STRING_ID);
  const field = raw.field === DELETED_FIELD ? DELETED_FIELD : name(raw.field, `${path}.field`);
  const stamp = hlc(raw.hlc, `${path}.hlc`);
  if (!Object.hasOwn(raw, "value")) throw new Invalid(`${path}.value`, "missing (null means removed)");
  const tripleValue = jsonValue(raw.value, `${path}.value`);
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
    const element = string(raw.element, `${path}.element`, MAX_STRING_ID);
    if (typeof tripleValue !== "boolean")
      throw new Invalid(`${path}.value`, `a set element triple carries true or false, got ${describe(tripleValue)}`);
    return { collection, id: docId, field, value: tripleValue, hlc: stamp, element };
  }
  return { collection, id: docId, field, value: tripleValue, hlc: stamp };
}

function triples(value: unknown, path: string): Triple[] {
  return array(value, path).map((each, index) => triple(each, `${path}[${index}]`));
}

function documentRefs(value: unknown, path: string): DocumentRef[] {
  return array(value, path).map((each, index) => {
    const raw = object(each, `${path}[${index}]`, ["collection", "id"]);
    return {
      collection: name(raw.collection, `${path}[${index}].collection`),
      id: string(raw.id, `${path}[${index}].id`, MAX_STRING_ID),
    };
  });
}

/** The message with its `revoked` documents, when it names any. */
function withRevoked<M extends object>(message: M, raw: Obj, path: string): M & { revoked?: DocumentRef[] } {
  return raw.revoked === undefined ? message : { ...message, revoked: documentRefs(raw.revoked, path) };
}

// ---- normalized queries (shape only: the server has no schema) ----

function fieldSpec(value: unknown, path: string, depth: number): FieldSpec {
  if (depth > MAX_DEPTH) throw new Invalid(path, `field specs nest at most ${MAX_DEPTH} deep`);
  const raw = object(value, path, ["type", "optional", "fallback", "target", "fields", "items"]);
  const spec: { -readonly [K in keyof FieldSpec]: FieldSpec[K] } = {
    type: oneOf(raw.type, `${path}.type`, FIELD_TYPES),
    optional: boolean(raw.optional, `${path}.optional`),
  };
  if (raw.fallback !== undefined) spec.fallback = jsonValue(raw.fallback, `${path}.fallback`);
  if (raw.target !== undefined) spec.target = name(raw.target, `${path}.target`);
  if (raw.fields !== undefined) spec.fields = specs(raw.fields, `${path}.fields`, depth + 1);
  if (raw.items !== undefined) spec.items = fieldSpec(raw.items, `${path}.items`, depth + 1);
  return spec;
}

function specs(value: unknown, path: string, depth: number): Record<string, FieldSpec> {
  const raw = record(value, path);
  const count = Object.keys(raw).length;
  if (count > MAX_FIELDS) throw new Invalid(path, `at most ${MAX_FIELDS} field specs, got ${count}`);
  const out: Record<string, FieldSpec> = {};
  for (const [key, each] of Object.entries(raw))
    out[name(key, `${path} key`)] = fieldSpec(each, `${path}.${key}`, depth);
  return out;
}

/** How deep `or` and `not` may nest in one `where` (as `normalizeQuery` allows). */
const MAX_WHERE_DEPTH = 8;

/**
 * The conditions of a `where` (one level of a query, `or` and `not` included), counted in
 * `shape`; `level` is how deep in relations and relational filters the `where` sits.
 */
function conditions(value: unknown, path: string, shape: QueryShape, level: number, depth = 0): Condition[] {
  if (depth > MAX_WHERE_DEPTH) throw new Invalid(path, `or and not nest at most ${MAX_WHERE_DEPTH} deep`);
  return list(value, path, MAX_CONDITIONS, "conditions").map((each, index) =>
    condition(each, `${path}[${index}]`, shape, level, depth),
  );
}

function condition(value: unknown, path: string, shape: QueryShape, level: number, depth: number): Condition {
  if (++shape.conditions > MAX_CONDITIONS * 4)
    throw new Invalid(path, `a query has at most ${MAX_CONDITIONS * 4} conditions at all levels together`);
  const keys = typeof value === "object" && value !== null ? Object.keys(value) : [];
  if (keys.length === 1 && keys[0] === "or") {
    const branches = list((value as Obj).or, `${path}.or`, MAX_CONDITIONS, "branches");
    if (branches.length === 0) throw new Invalid(`${path}.or`, "expected at least one branch");
    return { or: branches.map((branch, index) => conditions(branch, `${path}.or[${index}]`, shape, level, depth + 1)) };
  }
  if (keys.length === 1 && keys[0] === "not")
    return { not: conditions((value as Obj).not, `${path}.not`, shape, level, depth + 1) };
  if (keys.length === 1 && keys[0] === "related")
    return { related: relatedFilter((value as Obj).related, `${path}.related`, shape, level) };
  return fieldCondition(value, path);
}

/** A relational filter: it counts as a relation of the query, and nests as relations do. */
function relatedFilter(value: unknown, path: string, shape: QueryShape, level: number): RelatedFilter {
  if (level + 1 > MAX_DEPTH) throw new Invalid(path, `relations and relational filters nest at most ${MAX_DEPTH} deep`);
  if (++shape.relations > MAX_RELATIONS)
    throw new Invalid(
      path,
      `a query has at most ${MAX_RELATIONS} relations and relational filters at all levels together`,
    );
  const raw = object(value, path, ["direction", "link", "linkSpec", "collection", "where", "specs"]);
  const where = conditions(raw.where, `${path}.where`, shape, level + 1);
  const filterSpecs = specs(raw.specs, `${path}.specs`, 0);
  const unspecified = whereFields(where).find((field) => !Object.hasOwn(filterSpecs, field));
  if (unspecified !== undefined)
    throw new Invalid(`${path}.specs`, `no spec for the field ${JSON.stringify(unspecified)} the filter uses`);
  return {
    direction: oneOf(raw.direction, `${path}.direction`, LINK_DIRECTIONS),
    link: name(raw.link, `${path}.link`),
    linkSpec: fieldSpec(raw.linkSpec, `${path}.linkSpec`, 0),
    collection: name(raw.collection, `${path}.collection`),
    where,
    specs: filterSpecs,
  };
}

function fieldCondition(value: unknown, path: string): FieldCondition {
  const raw = object(value, path, ["field", "op", "operand"]);
  if (!Object.hasOwn(raw, "operand")) throw new Invalid(`${path}.operand`, "missing");
  const op = oneOf(raw.op, `${path}.op`, OPERATORS);
  // The engine relies on these operand kinds; normalizeQuery guarantees them on the client.
  if ((op === "in" || op === "notIn") && !Array.isArray(raw.operand))
    throw new Invalid(`${path}.operand`, `"${op}" takes a list, got ${describe(raw.operand)}`);
  if ((op === "isDefined" || op === "isUndefined") && typeof raw.operand !== "boolean") {
    throw new Invalid(`${path}.operand`, `"${op}" takes true or false, got ${describe(raw.operand)}`);
  }
  return { field: name(raw.field, `${path}.field`), op, operand: jsonValue(raw.operand, `${path}.operand`) };
}

const DIRECTIONS = new Set<Direction>(["asc", "desc"]);

function orderEntry(value: unknown, path: string): readonly [string, Direction] {
  const raw = array(value, path);
  if (raw.length !== 2) throw new Invalid(path, `expected a [field, "asc" | "desc"] pair, got ${raw.length} entries`);
  return [name(raw[0], `${path}[0]`), oneOf(raw[1], `${path}[1]`, DIRECTIONS)];
}

function cursor(value: unknown, path: string): Cursor {
  const raw = object(value, path, ["keys", "id"]);
  return {
    keys: [...list(jsonValue(raw.keys, `${path}.keys`), `${path}.keys`, MAX_ORDER_KEYS, "keys")],
    id: string(raw.id, `${path}.id`, MAX_STRING_ID),
  };
}

const CARDINALITIES = new Set(["one", "many"] as const);
const LINK_DIRECTIONS = new Set(["forward", "reverse"] as const);

/** Counts the relations of one query across its levels. */
interface QueryShape {
  relations: number;
  conditions: number;
}

function relation(value: unknown, path: string, depth: number, shape: QueryShape): NormalizedRelation {
  if (++shape.relations > MAX_RELATIONS)
    throw new Invalid(path, `a query has at most ${MAX_RELATIONS} relations at all levels together`);
  const raw = object(value, path, ["name", "cardinality", "direction", "link", "linkSpec", "query"]);
  return {
    name: name(raw.name, `${path}.name`),
    cardinality: oneOf(raw.cardinality, `${path}.cardinality`, CARDINALITIES),
    direction: oneOf(raw.direction, `${path}.direction`, LINK_DIRECTIONS),
    link: name(raw.link, `${path}.link`),
    linkSpec: fieldSpec(raw.linkSpec, `${path}.linkSpec`, 0),
    query: query(raw.query, `${path}.query`, depth + 1, shape),
  };
}

function query(
  value: unknown,
  path: string,
  depth: number,
  shape: QueryShape = { relations: 0, conditions: 0 },
): NormalizedQuery {
  if (depth > MAX_DEPTH) throw new Invalid(path, `relations nest at most ${MAX_DEPTH} deep`);
  const raw = object(value, path, [
    "collection",
    "select",
    "where",
    "orderBy",
    "limit",
    "specs",
    "relations",
    "after",
    "before",
  ]);
  const limit = raw.limit;
  if (limit !== undefined && !(typeof limit === "number" && Number.isSafeInteger(limit) && limit >= 0)) {
    throw new Invalid(`${path}.limit`, `expected a whole number >= 0 or no limit, got ${describe(limit)}`);
  }
  const out: {
    -readonly [K in keyof NormalizedQuery]: NormalizedQuery[K];
  } = {
    collection: name(raw.collection, `${path}.collection`),
    select: list(raw.select, `${path}.select`, MAX_FIELDS, "fields").map((each, index) =>
      name(each, `${path}.select[${index}]`),
    ),
    where: conditions(raw.where, `${path}.where`, shape, depth),
    orderBy: list(raw.orderBy, `${path}.orderBy`, MAX_ORDER_KEYS, "sort keys").map((each, index) =>
      orderEntry(each, `${path}.orderBy[${index}]`),
    ),
    limit,
    specs: specs(raw.specs, `${path}.specs`, 0),
  };
  if (raw.relations !== undefined) {
    out.relations = list(raw.relations, `${path}.relations`, MAX_RELATIONS, "relations").map((each, index) =>
      relation(each, `${path}.relations[${index}]`, depth, shape),
    );
  }
  if (raw.after !== undefined) out.after = cursor(raw.after, `${path}.after`);
  if (raw.before !== undefined) out.before = cursor(raw.before, `${path}.before`);
  // The engine reads a field through its spec; a field without one would read an inherited property.
  const fields = [...out.select, ...whereFields(out.where), ...out.orderBy.map(([field]) => field)];
  const unspecified = fields.find((field) => !Object.hasOwn(out.specs, field));
  if (unspecified !== undefined)
    throw new Invalid(`${path}.specs`, `no spec for the field ${JSON.stringify(unspecified)} the query uses`);
  return out;
}

// ---- rooms ----

/** Keys of one status object (a room's or a user's status, or part of one). */
const MAX_STATUS_KEYS = 64;
/** Users listed in one `roomState`. */
const MAX_ROOM_USERS = 100_000;

function roomAddress(raw: Obj): RoomAddress {
  const roomType = name(raw.roomType, "roomType");
  if (raw.roomId === "") return { roomType, roomId: "" };
  if (typeof raw.roomId !== "string" || raw.roomId.length > MAX_STRING_ID) {
    throw new Invalid(
      "roomId",
      `expected "" (the app-wide room) or a string of 1-${MAX_STRING_ID} characters, got ${describe(raw.roomId)}`,
    );
  }
  return { roomType, roomId: string(raw.roomId, "roomId", MAX_STRING_ID) };
}

/** A status object: at most 64 keys, each a name; values are any JSON (null removes a key in updates). */
function status(value: unknown, path: string): StatusValues {
  const raw = record(value, path);
  const keys = Object.keys(raw);
  if (keys.length > MAX_STATUS_KEYS)
    throw new Invalid(path, `a status has at most ${MAX_STATUS_KEYS} keys, got ${keys.length}`);
  for (const key of keys) {
    name(key, `${path} key`);
    jsonValue(raw[key], `${path}.${key}`);
  }
  return raw;
}

function roomUsers(value: unknown, path: string): Record<string, StatusValues> {
  const raw = record(value, path);
  const entries = Object.entries(raw);
  if (entries.length > MAX_ROOM_USERS)
    throw new Invalid(path, `at most ${MAX_ROOM_USERS} users, got ${entries.length}`);
  const out: Record<string, StatusValues> = {};
  for (const [userId, each] of entries)
    out[string(userId, `${path} key`, MAX_STRING_ID)] = status(each, `${path}.${userId}`);
  return out;
}

function present(raw: Obj, key: string): unknown {
  if (!Object.hasOwn(raw, key)) throw new Invalid(key, "missing");
  return raw[key];
}

// ---- messages ----

function clientMessage(raw: Obj): ClientMessage {
  switch (raw.type) {
    case "hello": {
      object(raw, "hello", ["type", "protocol", "appId", "clientId", "token", "userId"]);
      if (raw.protocol !== PROTOCOL_VERSION) {
        throw new Invalid(
          "protocol",
          `this peer speaks protocol version ${PROTOCOL_VERSION}, got ${describe(raw.protocol)}`,
        );
      }
      const appId = id(raw.appId, "appId");
      const clientId = id(raw.clientId, "clientId");
      const token = raw.token === undefined ? undefined : string(raw.token, "token", MAX_TOKEN);
      const userId = raw.userId === undefined ? undefined : string(raw.userId, "userId", MAX_STRING_ID);
      return helloMessage({ appId, clientId, token, userId });
    }
    case "subscribe":
      object(raw, "subscribe", ["type", "queryId", "query", "cursor", "held"]);
      return {
        type: "subscribe",
        queryId: id(raw.queryId, "queryId"),
        query: query(raw.query, "query", 0),
        cursor: raw.cursor === null ? null : cursorString(raw.cursor, "cursor"),
        ...(raw.held === undefined
          ? {}
          : {
              held: list(raw.held, "held", MAX_HELD_IDS, "ids").map((each, index) =>
                string(each, `held[${index}]`, MAX_STRING_ID),
              ),
            }),
      };
    case "unsubscribe":
      object(raw, "unsubscribe", ["type", "queryId"]);
      return { type: "unsubscribe", queryId: id(raw.queryId, "queryId") };
    case "push":
      object(raw, "push", ["type", "batchId", "triples"]);
      return { type: "push", batchId: id(raw.batchId, "batchId"), triples: triples(raw.triples, "triples") };
    case "ping":
      object(raw, "ping", ["type"]);
      return { type: "ping" };
    case "token":
      object(raw, "token", ["type", "token"]);
      return { type: "token", token: string(raw.token, "token", MAX_TOKEN) };
    case "join":
      object(raw, "join", ["type", "roomType", "roomId", "userStatus"]);
      return { type: "join", ...roomAddress(raw), userStatus: status(raw.userStatus, "userStatus") };
    case "leave":
      object(raw, "leave", ["type", "roomType", "roomId"]);
      return { type: "leave", ...roomAddress(raw) };
    case "emit":
      object(raw, "emit", ["type", "roomType", "roomId", "event", "data"]);
      return {
        type: "emit",
        ...roomAddress(raw),
        event: name(raw.event, "event"),
        data: jsonValue(present(raw, "data"), "data"),
      };
    case "setUserStatus":
      object(raw, "setUserStatus", ["type", "roomType", "roomId", "status"]);
      return { type: "setUserStatus", ...roomAddress(raw), status: status(raw.status, "status") };
    case "setRoomStatus":
      object(raw, "setRoomStatus", ["type", "roomType", "roomId", "status"]);
      return { type: "setRoomStatus", ...roomAddress(raw), status: status(raw.status, "status") };
    default:
      throw unknownType(
        raw.type,
        "hello, subscribe, unsubscribe, push, ping, token, join, leave, emit, setUserStatus, setRoomStatus",
      );
  }
}

function serverMessage(raw: Obj): ServerMessage {
  switch (raw.type) {
    case "welcome":
      object(raw, "welcome", ["type", "serverHlc", "userId"]);
      return {
        type: "welcome",
        serverHlc: hlc(raw.serverHlc, "serverHlc"),
        userId: raw.userId === null ? null : string(raw.userId, "userId", MAX_STRING_ID),
      };
    case "snapshot":
      object(raw, "snapshot", ["type", "queryId", "triples", "cursor", "revoked"]);
      return withRevoked(
        {
          type: "snapshot",
          queryId: id(raw.queryId, "queryId"),
          triples: triples(raw.triples, "triples"),
          cursor: cursorString(raw.cursor, "cursor"),
        },
        raw,
        "revoked",
      );
    case "snapshotPart":
      object(raw, "snapshotPart", ["type", "queryId", "triples", "documents", "total"]);
      return {
        type: "snapshotPart",
        queryId: id(raw.queryId, "queryId"),
        triples: triples(raw.triples, "triples"),
        documents: count(raw.documents, "documents"),
        total: count(raw.total, "total"),
      };
    case "changes":
      object(raw, "changes", ["type", "triples", "cursor", "revoked"]);
      return withRevoked(
        { type: "changes", triples: triples(raw.triples, "triples"), cursor: cursorString(raw.cursor, "cursor") },
        raw,
        "revoked",
      );
    case "ack":
      object(raw, "ack", ["type", "batchId", "cursor"]);
      return { type: "ack", batchId: id(raw.batchId, "batchId"), cursor: cursorString(raw.cursor, "cursor") };
    case "error": {
      object(raw, "error", ["type", "code", "message", "details"]);
      if (typeof raw.message !== "string")
        throw new Invalid("message", `expected a string, got ${describe(raw.message)}`);
      const code = oneOf(raw.code, "code", ERROR_CODES);
      if (raw.details === undefined) return { type: "error", code, message: raw.message };
      const details = record(jsonValue(raw.details, "details"), "details");
      return { type: "error", code, message: raw.message, details };
    }
    case "pong":
      object(raw, "pong", ["type"]);
      return { type: "pong" };
    case "tokenAccepted":
      object(raw, "tokenAccepted", ["type"]);
      return { type: "tokenAccepted" };
    case "roomState":
      object(raw, "roomState", ["type", "roomType", "roomId", "roomStatus", "users"]);
      return {
        type: "roomState",
        ...roomAddress(raw),
        roomStatus: status(raw.roomStatus, "roomStatus"),
        users: roomUsers(raw.users, "users"),
      };
    case "roomEvent":
      object(raw, "roomEvent", ["type", "roomType", "roomId", "event", "data", "userId", "hlc"]);
      return {
        type: "roomEvent",
        ...roomAddress(raw),
        event: name(raw.event, "event"),
        data: jsonValue(present(raw, "data"), "data"),
        userId: raw.userId === null ? null : string(raw.userId, "userId", MAX_STRING_ID),
        hlc: hlc(raw.hlc, "hlc"),
      };
    case "userStatus":
      object(raw, "userStatus", ["type", "roomType", "roomId", "userId", "status"]);
      return {
        type: "userStatus",
        ...roomAddress(raw),
        userId: string(raw.userId, "userId", MAX_STRING_ID),
        status: raw.status === null ? null : status(raw.status, "status"),
      };
    case "roomStatus":
      object(raw, "roomStatus", ["type", "roomType", "roomId", "status"]);
      return { type: "roomStatus", ...roomAddress(raw), status: status(raw.status, "status") };
    default:
      throw unknownType(
        raw.type,
        "welcome, snapshot, snapshotPart, changes, ack, error, pong, tokenAccepted, roomState, roomEvent, userStatus, roomStatus",
      );
  }
}

function unknownType(type: unknown, expected: string): Invalid {
  return new Invalid("type", `unknown message type ${describe(type)} (expected ${expected})`);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Where {@link utf8BytesUpTo} encodes, for limits up to 4 MiB (made on first use). */
let scratch: Uint8Array | undefined;

/** UTF-8 length of `text`, counting no further than just past `limit`. */
function utf8BytesUpTo(text: string, limit: number): number {
  if (text.length > limit) return text.length; // every code unit is at least one byte
  if (text.length * 3 <= limit) return text.length; // every code unit is at most three bytes
  if (limit <= 4 * 1024 * 1024) {
    // Encoding natively into a buffer one byte past the limit tells both at once.
    if (scratch === undefined || scratch.length < limit + 1) scratch = new Uint8Array(limit + 1);
    const { read, written } = encoder.encodeInto(text, scratch.subarray(0, limit + 1));
    return read < text.length ? limit + 1 : written;
  }
  let bytes = 0;
  for (let i = 0; i < text.length && bytes <= limit; i++) {
    const unit = text.charCodeAt(i);
    // A surrogate pair is 4 bytes: 2 for each half.
    bytes += unit < 0x80 ? 1 : unit < 0x800 ? 2 : unit >= 0xd800 && unit <= 0xdfff ? 2 : 3;
  }
  return bytes;
}

/** Finds a forbidden key anywhere in a parsed value, iteratively (deep nesting cannot overflow the stack). */
function forbiddenKey(root: unknown): string | undefined {
  if (typeof root !== "object" || root === null) return undefined;
  // Only objects and arrays go on the stack: a frame of a million numbers costs one pass.
  const stack: object[] = [root];
  while (stack.length > 0) {
    const value = stack.pop()!;
    if (Array.isArray(value)) {
      for (const each of value) if (typeof each === "object" && each !== null) stack.push(each);
      continue;
    }
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) return key;
      const each = (value as Obj)[key];
      if (typeof each === "object" && each !== null) stack.push(each);
    }
  }
  return undefined;
}

function parseFrame<T>(
  side: "client" | "server",
  frame: unknown,
  limits: ParseLimits | undefined,
  build: (raw: Obj) => T,
): DatabaseResult<T> {
  const what = `${side} message`;
  // ArrayBuffer.isView, not instanceof: a Buffer from another realm (a test runner's) counts too.
  if (typeof frame !== "string" && !(ArrayBuffer.isView(frame) && (frame as Uint8Array).BYTES_PER_ELEMENT === 1))
    return fail("PROTOCOL", `Refused a ${what}: expected a text frame, got ${describe(frame)}.`);
  const maxBytes = limits?.maxBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const bytes = typeof frame === "string" ? undefined : (frame as Uint8Array);
  if ((bytes === undefined ? utf8BytesUpTo(frame as string, maxBytes) : bytes.byteLength) > maxBytes) {
    return fail("PROTOCOL", `Refused a ${what}: the frame is larger than the limit of ${maxBytes} bytes.`, {
      maxBytes,
    });
  }
  // What a client sends is bounded before it is parsed: parsing is the costly part. A server's
  // frames (snapshots of many documents) may hold more.
  const problem = side === "client" ? jsonShapeProblem(bytes ?? (frame as string)) : undefined;
  if (problem !== undefined) return fail("PROTOCOL", `Refused a ${what}: the frame ${problem}.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes === undefined ? (frame as string) : decoder.decode(bytes));
  } catch {
    return fail("PROTOCOL", `Refused a ${what}: the frame is not valid JSON.`);
  }
  return parseValue(side, parsed, build);
}

/** The checks of a frame after JSON parsing: shape, forbidden keys, then the message's own fields. */
function parseValue<T>(side: "client" | "server", parsed: unknown, build: (raw: Obj) => T): DatabaseResult<T> {
  const what = `${side} message`;
  try {
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return fail("PROTOCOL", `Refused a ${what}: expected a JSON object, got ${describe(parsed)}.`);
    }
    const forbidden = forbiddenKey(parsed);
    if (forbidden !== undefined) {
      return fail(
        "PROTOCOL",
        `Refused a ${what}: the key ${JSON.stringify(forbidden)} is not allowed anywhere in a message.`,
        { key: forbidden },
      );
    }
    return ok(build(parsed as Obj));
  } catch (error) {
    if (error instanceof Invalid) {
      const type = (parsed as Obj).type;
      const subject =
        typeof type === "string" && error.path !== "type" ? `a ${JSON.stringify(type)} ${what}` : `a ${what}`;
      return fail("PROTOCOL", `Refused ${subject}: ${error.path}: ${error.reason}.`, { path: error.path });
    }
    // Anything else (say, a stack overflow on absurd nesting) is still the peer's bad input.
    return fail("PROTOCOL", `Refused a ${what}: ${error instanceof Error ? error.message : String(error)}.`);
  }
}

/**
 * Checks one value as the triple at `index` of a pushed batch (`triples[index]` of a `push`), for
 * bodies too large to check in one go, such as a push streamed line by line: errors name the
 * triple by its index in the whole batch. The forbidden-key and depth checks run on it too.
 *
 * @example
 * const triple = parseTriple(JSON.parse(line), lineNumber - 1);
 * if (triple.error) return refuse(triple.error);
 */
export function parseTriple(value: unknown, index: number): DatabaseResult<Triple> {
  const forbidden = forbiddenKey(value);
  if (forbidden !== undefined) {
    return fail(
      "PROTOCOL",
      `Refused a "push" client message: the key ${JSON.stringify(forbidden)} is not allowed anywhere in a message.`,
      { key: forbidden },
    );
  }
  try {
    return ok(triple(value, `triples[${index}]`));
  } catch (error) {
    if (error instanceof Invalid)
      return fail("PROTOCOL", `Refused a "push" client message: ${error.path}: ${error.reason}.`, { path: error.path });
    throw error;
  }
}

/**
 * Parses and validates one frame a client sent (server side), as text or as its UTF-8 bytes (the
 * cheaper to check). Never throws: anything that does not follow the protocol is a PROTOCOL
 * error naming what is wrong and where. Its size, depth and number of arrays and objects are
 * checked before it is parsed (see `MAX_CONTAINERS`).
 *
 * @example
 * const { data: message, error } = parseClientMessage(frame);
 * if (error) return socket.send(JSON.stringify({ type: "error", ...error.toJSON() }));
 */
export function parseClientMessage(text: string | Uint8Array, limits?: ParseLimits): DatabaseResult<ClientMessage> {
  return parseFrame("client", text, limits, clientMessage);
}

/**
 * Parses and validates one frame a server sent (client side). Never throws.
 *
 * @example
 * const { data: message, error } = parseServerMessage(frame);
 * if (message?.type === "changes") applyAll(message.triples);
 */
export function parseServerMessage(text: string, limits?: ParseLimits): DatabaseResult<ServerMessage> {
  return parseFrame("server", text, limits, serverMessage);
}

/**
 * {@link parseClientMessage} for a value already parsed from JSON (an HTTP body), with no size
 * limit: the same checks without serializing and parsing it again.
 *
 * @example
 * const { data: push, error } = parseClientValue({ type: "push", batchId, triples });
 */
export function parseClientValue(value: unknown): DatabaseResult<ClientMessage> {
  return parseValue("client", value, clientMessage);
}

/**
 * {@link parseServerMessage} for a value already parsed from JSON (an HTTP answer, preloaded data).
 *
 * @example
 * const { data: changes, error } = parseServerValue({ ...answer, type: "changes" });
 */
export function parseServerValue(value: unknown): DatabaseResult<ServerMessage> {
  return parseValue("server", value, serverMessage);
}
