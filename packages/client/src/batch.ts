import { type DatabaseResult, fail, ok, type Schema, type LocalWriter } from "@trellis/core";
import type { BatchOperation } from "./types.js";
import type { MemoryNeed } from "./persistence/working-set.js";

/**
 * A copy of write fields with removals (`undefined`) as `null`, so a description survives JSON.
 * `executeOne` reads `null` back as removal (for a JSON field, `null` reads as undefined anyway).
 */
function encodeFields(fields: unknown): unknown {
  if (!isPlainObject(fields)) return fields;
  const copy = { ...fields };
  for (const field in copy) if (copy[field] === undefined) copy[field] = null;
  return copy;
}

function decodeFields(fields: unknown): unknown {
  if (!isPlainObject(fields)) return fields;
  // Bulk loads rarely remove anything: copy only when there is a removal to turn back.
  for (const field in fields) {
    if (fields[field] !== null) continue;
    const copy: Record<string, unknown> = { ...fields };
    for (const name in copy) if (copy[name] === null) copy[name] = undefined;
    return copy;
  }
  return fields;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * What a batch's operations read (what must be in memory before it runs): the documents its
 * writes by id name, and whole collections for its `*Many` writes.
 */
export function batchNeeds(operations: unknown): MemoryNeed[] {
  const ids = new Map<string, Set<string> | undefined>();
  if (!Array.isArray(operations)) return [];
  for (const operation of operations) {
    const { collection, kind, id } = (operation ?? {}) as { collection?: unknown; kind?: unknown; id?: unknown };
    if (typeof collection !== "string") continue;
    if (!ids.has(collection)) ids.set(collection, new Set());
    const named = ids.get(collection);
    if (typeof kind === "string" && kind.endsWith("Many")) ids.set(collection, undefined);
    else if (typeof id === "string") named?.add(id);
  }
  return [...ids].map(([collection, named]) => ({ collection, ids: named && [...named] }));
}

/** Builds `database.batch.<collection>`: the write API returning operation descriptions. */
export function createBatchCollection(collection: string): Record<string, (...args: never[]) => BatchOperation> {
  const describe = (kind: string, args: Record<string, unknown>) =>
    ({ kind, collection, ...args, ...("fields" in args ? { fields: encodeFields(args.fields) } : {}) }) as BatchOperation;
  return {
    create: (fields: Record<string, unknown>) => describe("create", { fields }),
    update: ({ id, fields }: { id: string; fields: Record<string, unknown> }) => describe("update", { id, fields }),
    replace: ({ id, fields }: { id: string; fields: Record<string, unknown> }) => describe("replace", { id, fields }),
    delete: (id: string) => describe("delete", { id }),
    updateMany: ({ where = {}, fields }: { where?: Record<string, unknown>; fields: Record<string, unknown> }) =>
      describe("updateMany", { where, fields }),
    replaceMany: ({ where = {}, fields }: { where?: Record<string, unknown>; fields: Record<string, unknown> }) =>
      describe("replaceMany", { where, fields }),
    deleteMany: ({ where = {} }: { where?: Record<string, unknown> }) => describe("deleteMany", { where }),
  };
}

/** Runs batch operations in order; each gets its own result. */
export function executeBatch(schema: Schema, writer: LocalWriter, operations: unknown): DatabaseResult<DatabaseResult<unknown>[]> {
  if (!Array.isArray(operations)) return fail("VALIDATION", "batch.execute takes an array of operations.");
  return ok(operations.map((operation) => executeOne(schema, writer, operation)));
}

function executeOne(schema: Schema, writer: LocalWriter, operation: unknown): DatabaseResult<unknown> {
  if (typeof operation !== "object" || operation === null) return fail("VALIDATION", "A batch operation must be an object.");
  const op = operation as Record<string, unknown> & { kind?: unknown; collection?: unknown };
  const collection = typeof op.collection === "string" ? op.collection : "";
  if (!Object.hasOwn(schema.collections, collection)) {
    return fail("VALIDATION", `Batch operation names unknown collection ${JSON.stringify(op.collection)}.`);
  }
  const fields = decodeFields(op.fields);
  switch (op.kind) {
    case "create":
      return writer.create(collection, fields);
    case "update":
    case "replace":
      return writer.change(collection, op.id, fields, op.kind);
    case "delete":
      return writer.delete(collection, op.id);
    case "updateMany":
    case "replaceMany":
      return writer.changeMany(collection, { where: op.where, fields }, op.kind === "updateMany" ? "update" : "replace");
    case "deleteMany":
      return writer.changeMany(collection, { where: op.where }, "delete");
    default:
      return fail("VALIDATION", `Unknown batch operation kind ${JSON.stringify(op.kind)}.`);
  }
}
