import { DatabaseError } from "../errors.js";
import type { AnyFieldDef, FieldSpec } from "./field.js";
import type { CollectionSpec, EntitiesDef, RoomSpec, RoomsDef, Schema } from "./types.js";

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * Entity and room names starting with this are Trellis's own collections (the key-value maps of
 * `client.map(name)` live in `__map_<name>`), so a schema may not use them.
 */
export const RESERVED_NAME_PREFIX = "__";
// `and`, `or` and `not` combine filters in `where`.
const RESERVED_FIELD_NAMES = new Set([
  "id",
  "createdAt",
  "updatedAt",
  "createdBy",
  "and",
  "or",
  "not",
  "__proto__",
  "constructor",
  "prototype",
]);
// `database.batch` and `database.batch.execute` are the batch API, so no collection may use those names.
const RESERVED_ENTITY_NAMES = new Set(["batch", "execute", "__proto__", "constructor", "prototype"]);
const ENTITY_FIELD_TYPES = new Set(["string", "number", "boolean", "date", "json", "ref", "refMany"]);
const ROOM_FIELD_TYPES = new Set([...ENTITY_FIELD_TYPES, "object", "array"]);

function schemaError(message: string): DatabaseError {
  return new DatabaseError("VALIDATION", `Invalid schema: ${message}`);
}

function checkName(kind: string, name: string, reserved: ReadonlySet<string>): void {
  if (!NAME_PATTERN.test(name))
    throw schemaError(`${kind} name "${name}" must match ${NAME_PATTERN} (letters, digits, _).`);
  if (reserved.has(name)) throw schemaError(`${kind} name "${name}" is reserved; pick another name.`);
}

/** Entities and rooms only: fields may start with `__`, collections may not (see {@link RESERVED_NAME_PREFIX}). */
function checkCollectionName(kind: string, name: string): void {
  checkName(kind, name, RESERVED_ENTITY_NAMES);
  if (name.startsWith(RESERVED_NAME_PREFIX)) {
    throw schemaError(
      `${kind} name "${name}" starts with "${RESERVED_NAME_PREFIX}", which is reserved for Trellis's own collections (key-value maps); rename it.`,
    );
  }
}

function isFieldDef(value: unknown): value is AnyFieldDef {
  return (
    typeof value === "object" && value !== null && "spec" in value && typeof (value as AnyFieldDef).spec === "object"
  );
}

function checkFieldSpec(path: string, spec: FieldSpec, allowed: ReadonlySet<string>, entities: EntitiesDef): void {
  if (!allowed.has(spec.type)) {
    throw schemaError(
      `${path} has type "${String(spec.type)}", which is not allowed here (use one of ${[...allowed].join(", ")}).`,
    );
  }
  if (
    !spec.optional &&
    !("fallback" in spec) &&
    spec.type !== "ref" &&
    spec.type !== "refMany" &&
    spec.type !== "object" &&
    spec.type !== "array"
  ) {
    throw schemaError(
      `${path} is required but has no fallback; give it { fallback: … } or make it { optional: true }.`,
    );
  }
  if ((spec.type === "ref" || spec.type === "refMany") && !Object.hasOwn(entities, spec.target ?? "")) {
    throw schemaError(`${path} refers to unknown entity "${spec.target}".`);
  }
  if ("fallback" in spec && !fallbackFits(spec)) {
    throw schemaError(
      `${path} has a fallback of the wrong type (${JSON.stringify(spec.fallback)} for a ${spec.type}).`,
    );
  }
  if (spec.type === "object") {
    for (const [name, member] of Object.entries(spec.fields ?? {}))
      checkFieldSpec(`${path}.${name}`, member, ROOM_FIELD_TYPES, entities);
  }
  if (spec.type === "array" && spec.items) checkFieldSpec(`${path}[]`, spec.items, ROOM_FIELD_TYPES, entities);
}

function fallbackFits(spec: FieldSpec): boolean {
  const value = spec.fallback;
  switch (spec.type) {
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
    case "date":
      return value === "now" || (typeof value === "number" && Number.isFinite(value));
    default:
      return true;
  }
}

function compileFields(
  path: string,
  fields: unknown,
  allowed: ReadonlySet<string>,
  entities: EntitiesDef,
): Record<string, FieldSpec> {
  if (typeof fields !== "object" || fields === null)
    throw schemaError(`${path} must be an object of fields made with t.*.`);
  const specs: Record<string, FieldSpec> = {};
  for (const [name, field] of Object.entries(fields)) {
    checkName(`field ${path}.${name}:`, name, RESERVED_FIELD_NAMES);
    if (!isFieldDef(field))
      throw schemaError(`${path}.${name} is not a field type; build fields with t.string(), t.number(), ….`);
    checkFieldSpec(`${path}.${name}`, field.spec, allowed, entities);
    specs[name] = field.spec;
  }
  return specs;
}

function compileRoom(name: string, room: RoomsDef[string], entities: EntitiesDef): RoomSpec {
  const events = compileFields(`rooms.${name}.events`, room.events ?? {}, ROOM_FIELD_TYPES, entities);
  const userStatus = compileFields(`rooms.${name}.userStatus`, room.userStatus ?? {}, ROOM_FIELD_TYPES, entities);
  const roomStatus = compileFields(`rooms.${name}.roomStatus`, room.roomStatus ?? {}, ROOM_FIELD_TYPES, entities);
  for (const key of Object.keys(userStatus)) {
    if (Object.hasOwn(roomStatus, key)) {
      throw schemaError(`room "${name}" uses "${key}" in both userStatus and roomStatus; rename one of them.`);
    }
  }
  return { name, events, userStatus, roomStatus };
}

/**
 * Declares the entities and rooms of an app. Types flow from it to the client, query results,
 * hooks and room handles. Throws a VALIDATION `DatabaseError` for a schema that cannot work.
 *
 * @example
 * const schema = createSchema({
 *   entities: {
 *     users: { name: t.string({ fallback: "" }), age: t.number({ optional: true }) },
 *     posts: { title: t.string({ fallback: "" }), authorId: t.ref("users") },
 *   },
 * });
 */
export function createSchema<const TEntities extends EntitiesDef, const TRooms extends RoomsDef = {}>(definition: {
  entities: TEntities;
  rooms?: TRooms;
}): Schema<TEntities, TRooms> {
  if (
    typeof definition !== "object" ||
    definition === null ||
    typeof definition.entities !== "object" ||
    definition.entities === null
  ) {
    throw schemaError("createSchema takes { entities: { … }, rooms?: { … } }.");
  }
  const collections: Record<string, CollectionSpec> = {};
  for (const [name, fields] of Object.entries(definition.entities)) {
    checkCollectionName("entity", name);
    collections[name] = { name, fields: compileFields(name, fields, ENTITY_FIELD_TYPES, definition.entities) };
  }
  const roomSpecs: Record<string, RoomSpec> = {};
  for (const [name, room] of Object.entries(definition.rooms ?? {})) {
    checkCollectionName("room", name);
    if (typeof room !== "object" || room === null)
      throw schemaError(`room "${name}" must be an object with events, userStatus, roomStatus.`);
    roomSpecs[name] = compileRoom(name, room, definition.entities);
  }
  return {
    entities: definition.entities,
    rooms: (definition.rooms ?? {}) as TRooms,
    collections,
    roomSpecs,
  };
}
