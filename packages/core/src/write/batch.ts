import { type DatabaseResult, fail, ok } from "../errors.js";
import type { WhereClause } from "../query/query-types.js";
import type { CreateInput, EntitiesDef, EntityDef, ReplaceInput, Schema, UpdateInput } from "../schema/types.js";
import type { CreateManyOptions, LocalWriter } from "./local-writer.js";

/** A serialisable description of one write, made by `database.batch.<collection>.<op>(…)`. */
export type BatchOperation =
  | { readonly kind: "create"; readonly collection: string; readonly fields: Record<string, unknown> }
  | {
      readonly kind: "createMany";
      readonly collection: string;
      readonly documents: readonly Record<string, unknown>[];
      /** Present (false) only when the operation's result is `{ count }`. */
      readonly returnDocuments?: boolean;
    }
  | {
      readonly kind: "update" | "replace";
      readonly collection: string;
      readonly id: string;
      readonly fields: Record<string, unknown>;
    }
  | { readonly kind: "delete"; readonly collection: string; readonly id: string }
  | {
      readonly kind: "updateMany" | "replaceMany";
      readonly collection: string;
      readonly where: Record<string, unknown>;
      readonly fields: Record<string, unknown>;
    }
  | { readonly kind: "deleteMany"; readonly collection: string; readonly where: Record<string, unknown> };

/** Batch builders of one collection: the same writes as data. */
export interface BatchCollection<E extends EntityDef, A extends EntitiesDef = {}> {
  create(fields: CreateInput<E>): BatchOperation;
  /** Its result is the created documents, or `{ count }` with `{ returnDocuments: false }`. */
  createMany(documents: readonly CreateInput<E>[], options?: CreateManyOptions): BatchOperation;
  update(args: { id: string; fields: UpdateInput<E> }): BatchOperation;
  replace(args: { id: string; fields: ReplaceInput<E> }): BatchOperation;
  delete(id: string): BatchOperation;
  updateMany(args: { where?: WhereClause<E, A>; fields: UpdateInput<E> }): BatchOperation;
  replaceMany(args: { where?: WhereClause<E, A>; fields: ReplaceInput<E> }): BatchOperation;
  deleteMany(args: { where?: WhereClause<E, A> }): BatchOperation;
}

/**
 * `database.batch` of the client and of the server's admin client: builders per collection and
 * `execute`.
 *
 * @example
 * const { database } = client;
 * const { data: results } = await database.batch.execute([
 *   database.batch.todos.create({ text: "Write docs", done: false }),
 *   database.batch.todos.delete("t1"),
 * ]);
 */
export type BatchApi<TEntities extends EntitiesDef> = {
  readonly [K in keyof TEntities]: BatchCollection<TEntities[K], TEntities>;
} & {
  /**
   * Runs operations in order and returns each one's result (a client's subscribers hear them as
   * one change). Not atomic: a failed operation does not undo the others.
   */
  execute(operations: readonly BatchOperation[]): Promise<DatabaseResult<DatabaseResult<unknown>[]>>;
};

/**
 * A copy of write fields with removals (`undefined`) as `null`, so a description survives JSON.
 * `executeBatchOperation` reads `null` back as removal (for a JSON field, `null` reads as undefined anyway).
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
 * Builds `database.batch.<collection>`: the write API returning operation descriptions.
 *
 * @example
 * const todos = createBatchCollection("todos") as unknown as BatchCollection<typeof schema.entities.todos>;
 * todos.delete("t1"); // { kind: "delete", collection: "todos", id: "t1" }
 */
export function createBatchCollection(collection: string): Record<string, (...args: never[]) => BatchOperation> {
  const describe = (kind: string, args: Record<string, unknown>) =>
    ({
      kind,
      collection,
      ...args,
      ...("fields" in args ? { fields: encodeFields(args.fields) } : {}),
    }) as BatchOperation;
  return {
    create: (fields: Record<string, unknown>) => describe("create", { fields }),
    createMany: (documents: readonly Record<string, unknown>[], options?: CreateManyOptions) => {
      // Malformed input stays as given: `execute` reports it.
      const encoded = Array.isArray(documents) ? documents.map(encodeFields) : documents;
      const returnDocuments = options?.returnDocuments === false ? { returnDocuments: false } : {};
      return { kind: "createMany", collection, documents: encoded, ...returnDocuments } as BatchOperation;
    },
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

/**
 * Runs batch operations in order with one writer; each gets its own result.
 *
 * @example
 * const operations = [client.database.batch.todos.delete("t1")];
 * const { data: results } = writer.transaction(() => executeBatch(schema, writer, operations));
 */
export function executeBatch(
  schema: Schema,
  writer: LocalWriter,
  operations: unknown,
): DatabaseResult<DatabaseResult<unknown>[]> {
  if (!Array.isArray(operations)) return fail("VALIDATION", "batch.execute takes an array of operations.");
  return ok(operations.map((operation) => executeBatchOperation(schema, writer, operation)));
}

/**
 * Runs one batch operation (a description, checked here) with `writer`: the write it describes.
 *
 * @example
 * const result = executeBatchOperation(schema, writer, { kind: "delete", collection: "todos", id: "t1" });
 */
export function executeBatchOperation(
  schema: Schema,
  writer: LocalWriter,
  operation: unknown,
): DatabaseResult<unknown> {
  if (typeof operation !== "object" || operation === null)
    return fail("VALIDATION", "A batch operation must be an object.");
  const op = operation as Record<string, unknown> & { kind?: unknown; collection?: unknown };
  const collection = typeof op.collection === "string" ? op.collection : "";
  if (!Object.hasOwn(schema.collections, collection)) {
    return fail("VALIDATION", `Batch operation names unknown collection ${JSON.stringify(op.collection)}.`);
  }
  const fields = decodeFields(op.fields);
  switch (op.kind) {
    case "create":
      return writer.create(collection, fields);
    case "createMany": {
      const { documents, returnDocuments } = op;
      const decoded = Array.isArray(documents) ? documents.map(decodeFields) : documents;
      return writer.createMany(collection, decoded, returnDocuments === undefined ? undefined : { returnDocuments });
    }
    case "update":
    case "replace":
      return writer.change(collection, op.id, fields, op.kind);
    case "delete":
      return writer.delete(collection, op.id);
    case "updateMany":
    case "replaceMany":
      return writer.changeMany(
        collection,
        { where: op.where, fields },
        op.kind === "updateMany" ? "update" : "replace",
      );
    case "deleteMany":
      return writer.changeMany(collection, { where: op.where }, "delete");
    default:
      return fail("VALIDATION", `Unknown batch operation kind ${JSON.stringify(op.kind)}.`);
  }
}

/**
 * The ids callers gave documents to create (what a create must check is not in use yet).
 *
 * @example
 * idsGiven([{ id: "t1", text: "a" }, { text: "b" }]); // ["t1"]
 */
export function idsGiven(documents: unknown): string[] {
  const ids: string[] = [];
  if (!Array.isArray(documents)) return ids;
  for (const document of documents) {
    const id = (document as { id?: unknown } | null | undefined)?.id;
    if (typeof id === "string") ids.push(id);
  }
  return ids;
}
