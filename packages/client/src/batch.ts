import { type DatabaseResult, fail, ok, type Schema } from "@trellis/core";
import type { LocalWriter } from "./local-writer.js";
import type { BatchOperation } from "./types.js";

/** Builds `database.batch.<collection>`: the write API returning operation descriptions. */
export function createBatchCollection(collection: string): Record<string, (...args: never[]) => BatchOperation> {
  const describe = (kind: string, args: Record<string, unknown>) => ({ kind, collection, ...args }) as BatchOperation;
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
  switch (op.kind) {
    case "create":
      return writer.create(collection, op.fields);
    case "update":
    case "replace":
      return writer.change(collection, op.id, op.fields, op.kind);
    case "delete":
      return writer.delete(collection, op.id);
    case "updateMany":
    case "replaceMany":
      return writer.changeMany(collection, { where: op.where, fields: op.fields }, op.kind === "updateMany" ? "update" : "replace");
    case "deleteMany":
      return writer.changeMany(collection, { where: op.where }, "delete");
    default:
      return fail("VALIDATION", `Unknown batch operation kind ${JSON.stringify(op.kind)}.`);
  }
}
