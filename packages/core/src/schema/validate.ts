import { type DatabaseResult, fail, ok } from "../errors.js";
import type { FieldSpec } from "./field.js";
import type { CollectionSpec } from "./types.js";
import { containersOf, MAX_VALUE_CONTAINERS } from "../protocol/json-shape.js";

/** How a write treats fields it does not mention. */
export type WriteMode = "create" | "update" | "replace";

/**
 * A validated write in stored form: `value` is `null` for "remove", epoch ms for dates, a
 * deduplicated array for refMany.
 */
export type StoredFields = Array<readonly [field: string, value: unknown]>;

const AUTO_FIELDS = new Set(["id", "createdAt", "updatedAt", "createdBy"]);
const MAX_JSON_DEPTH = 64;

/**
 * Checks a user's write against a collection and converts it to stored form. Errors are
 * VALIDATION results whose message and `details.field` name the offending field.
 *
 * @example
 * validateWrite(schema.collections.users!, { name: "Ada", isAdult: true }, "create", Date.now())
 */
export function validateWrite(
  collection: CollectionSpec,
  input: unknown,
  mode: WriteMode,
  nowMs: number,
): DatabaseResult<StoredFields> {
  const stored: StoredFields = [];
  const checked = checkWrite(collection, input, mode, nowMs, (...cell) => stored.push(cell));
  return checked.error ? checked : ok(stored);
}

/** Hears each field of a checked write in stored form, in the order {@link validateWrite} lists them. */
export type StoredFieldSink = (field: string, value: unknown) => void;

/**
 * {@link validateWrite} without the list: each stored field goes to `sink` as it is checked, so a
 * write of many documents allocates nothing per field. Without a sink it only checks. A failing write may have sent some fields to the sink before the
 * error: check first, then write.
 *
 * @example
 * const isValid = checkWrite(schema.collections.users!, { name: "Ada", isAdult: true }, "create", Date.now()).error === undefined;
 */
export function checkWrite(
  collection: CollectionSpec,
  input: unknown,
  mode: WriteMode,
  nowMs: number,
  sink?: StoredFieldSink,
): DatabaseResult<void> {
  if (typeof input !== "object" || input === null || Array.isArray(input) || input instanceof Date) {
    return fail("VALIDATION", `${collection.name}: fields must be an object, got ${describe(input)}.`);
  }
  const given = input as Record<string, unknown>;
  for (const field of Object.keys(given)) {
    if (AUTO_FIELDS.has(field)) return fieldError(collection, field, `is read-only and set by Trellis`);
    const spec = Object.hasOwn(collection.fields, field) ? collection.fields[field] : undefined;
    if (spec === undefined) return fieldError(collection, field, `is not in the schema`);
    const value = given[field];
    if (value === undefined) {
      // A `fallback: "now"` date may be removed: it then reads as the creation time.
      const isRemovable = spec.optional || (spec.type === "date" && spec.fallback === "now");
      if (!isRemovable && mode !== "create") return fieldError(collection, field, `is required and cannot be removed`);
      if (mode !== "create") sink?.(field, null);
      continue;
    }
    const converted = toStored(spec, value);
    if (converted === INVALID)
      return fieldError(collection, field, `expects ${expectation(spec)}, got ${describe(value)}`);
    sink?.(field, converted);
  }
  if (mode === "update") return ok(undefined);
  // `for…in` rather than `Object.entries`: no array per write, which bulk creates feel.
  for (const field in collection.fields) {
    if (given[field] !== undefined) continue;
    const spec = collection.fields[field]!;
    if (spec.type === "date" && spec.fallback === "now") {
      sink?.(field, nowMs);
    } else if (!spec.optional) {
      return fieldError(collection, field, `is required`);
    } else if (mode === "replace") {
      sink?.(field, null);
    }
  }
  return ok(undefined);
}

const INVALID = Symbol("invalid");

function toStored(spec: FieldSpec, value: unknown): unknown {
  switch (spec.type) {
    case "string":
      return typeof value === "string" ? value : INVALID;
    case "ref":
      return typeof value === "string" && value.length > 0 ? value : INVALID;
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? value : INVALID;
    case "boolean":
      return typeof value === "boolean" ? value : INVALID;
    case "date":
      if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.getTime() : INVALID;
      return INVALID;
    case "refMany": {
      if (!Array.isArray(value) || !value.every((id) => typeof id === "string" && id.length > 0)) return INVALID;
      return [...new Set(value as string[])];
    }
    case "json":
      return isJson(value, 0) && containersOf(value, MAX_VALUE_CONTAINERS) <= MAX_VALUE_CONTAINERS
        ? structuredClone(value)
        : INVALID;
    case "object":
    case "array":
      return INVALID;
  }
}

/** Whether a value is plain JSON (plain objects, arrays, strings, finite numbers, booleans, null), at most 64 deep. */
export function isJson(value: unknown, depth = 0): boolean {
  if (depth > MAX_JSON_DEPTH) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isJson(item, depth + 1));
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.entries(value).every(([key, item]) => key !== "__proto__" && isJson(item, depth + 1));
  }
  return false;
}

function expectation(spec: FieldSpec): string {
  switch (spec.type) {
    case "ref":
      return `a non-empty id string (a ref to ${spec.target})`;
    case "refMany":
      return `an array of id strings (refs to ${spec.target})`;
    case "date":
      return "a valid Date";
    case "json":
      return `a JSON value (plain objects, arrays, strings, finite numbers, booleans, null) nested at most ${MAX_JSON_DEPTH} deep, with at most ${MAX_VALUE_CONTAINERS} arrays and objects`;
    case "number":
      return "a finite number";
    default:
      return `a ${spec.type}`;
  }
}

/** A short, safe description of a bad value for error messages. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  // Never print a function's source into a message.
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a Date";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}

function fieldError(collection: CollectionSpec, field: string, problem: string) {
  return fail("VALIDATION", `${collection.name}.${field} ${problem}.`, { collection: collection.name, field });
}

/**
 * Checks a room value (event data, or one user or room status value) against its field spec
 * and converts it to wire form: dates become epoch ms, `t.object` members with a fallback are
 * filled in when left out. Errors are VALIDATION results naming `path` (like `cursor.x`).
 *
 * @example
 * validateRoomValue(schema.roomSpecs.board!.userStatus.cursor!, { x: 1, y: 2 }, "cursor")
 */
export function validateRoomValue(spec: FieldSpec, value: unknown, path: string): DatabaseResult<unknown> {
  const converted = toRoomWire(spec, value, path);
  if (converted instanceof RoomProblem)
    return fail("VALIDATION", `${converted.path} ${converted.problem}.`, { field: converted.path });
  return ok(converted);
}

class RoomProblem {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {}
}

function toRoomWire(spec: FieldSpec, value: unknown, path: string): unknown {
  if (spec.type === "object") {
    if (
      typeof value !== "object" ||
      value === null ||
      Array.isArray(value) ||
      Object.getPrototypeOf(value) !== Object.prototype
    ) {
      return new RoomProblem(path, `expects an object, got ${describe(value)}`);
    }
    const fields = spec.fields ?? {};
    const given = value as Record<string, unknown>;
    const wire: Record<string, unknown> = {};
    for (const key of Object.keys(given)) {
      if (!Object.hasOwn(fields, key)) return new RoomProblem(`${path}.${key}`, `is not in the schema`);
    }
    for (const [key, member] of Object.entries(fields)) {
      const item = given[key];
      if (item === undefined) {
        if ("fallback" in member) wire[key] = member.fallback;
        else if (!member.optional) return new RoomProblem(`${path}.${key}`, `is required`);
        continue;
      }
      const converted = toRoomWire(member, item, `${path}.${key}`);
      if (converted instanceof RoomProblem) return converted;
      wire[key] = converted;
    }
    return wire;
  }
  if (spec.type === "array") {
    if (!Array.isArray(value)) return new RoomProblem(path, `expects an array, got ${describe(value)}`);
    const items = spec.items;
    if (items === undefined) return new RoomProblem(path, `has no element type`);
    const wire: unknown[] = [];
    for (let index = 0; index < value.length; index++) {
      const converted = toRoomWire(items, value[index], `${path}[${index}]`);
      if (converted instanceof RoomProblem) return converted;
      wire.push(converted);
    }
    return wire;
  }
  const converted = toStored(spec, value);
  return converted === INVALID
    ? new RoomProblem(path, `expects ${expectation(spec)}, got ${describe(value)}`)
    : converted;
}
