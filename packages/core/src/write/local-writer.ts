import { type DatabaseResult, fail, ok } from "../errors.js";
import { type Clock, encodeHlc, type Hlc, hlcMillis } from "../hlc.js";
import { compileMaterializer, type Materializer } from "../query/materialize.js";
import { normalizeQuery } from "../query/normalize.js";
import type { NormalizedQuery } from "../query/normalized-query.js";
import { QueryCostError } from "../query/query-cost.js";
import { runQuery } from "../query/run-query.js";
import type { CollectionSpec, Schema } from "../schema/types.js";
import { type StoredFields, validateWrite, type WriteMode } from "../schema/validate.js";
import type { TripleStore } from "../store/triple-store.js";
import { CREATED_AT_FIELD, CREATED_BY_FIELD, DELETED_FIELD, type Triple } from "../triples.js";

/** Fields given as an object or as a function of the current document. */
export type FieldsInput = Record<string, unknown> | ((previous: Record<string, unknown>) => unknown);

type Doc = Record<string, unknown>;

/** Hears the triples of each write call (or batch) once it is applied, in the order written. */
export type WriteListener = (triples: readonly Triple[]) => void;

/**
 * Applies the client's writes to the local store: validation, HLC stamping, and the triples
 * each write means. Every method returns a result; none throws for bad input. With an
 * `onWrite` listener (a client with a server) it also reports the triples each write call
 * wrote, which become one outbox entry.
 */
export class LocalWriter {
  private readonly fullDocs = new Map<string, { query: NormalizedQuery; materialize: Materializer }>();
  /** The triples of the write call in progress, when someone listens. */
  private recorded: Triple[] | undefined;

  constructor(
    private readonly schema: Schema,
    private readonly store: TripleStore,
    private readonly clock: Clock,
    private readonly userId: string | undefined,
    private readonly newId: () => string,
    private readonly onWrite?: WriteListener,
  ) {}

  /**
   * Runs writes as one transaction and one reported write call (`batch.execute` wraps all its
   * operations in one). Nested calls join the outer one.
   */
  transaction<T>(body: () => T): T {
    if (this.onWrite === undefined || this.recorded !== undefined) return this.store.transact(body);
    const recorded: Triple[] = [];
    this.recorded = recorded;
    try {
      return this.store.transact(body);
    } finally {
      this.recorded = undefined;
      if (recorded.length > 0) this.onWrite(recorded);
    }
  }

  /**
   * Writes already checked plain fields of one document of a collection the schema does not
   * declare (a key-value map's reserved collection): stamped with a fresh HLC, applied and
   * reported like any write. A document this replica does not hold yet gets its `createdAt`
   * too: other replicas accept a document they lack only with it (design 009).
   *
   * @example
   * writer.writeReserved({ name: "__map_prefs", fields: { value: { type: "json", optional: true } } }, "theme", [["value", "dark"]]);
   */
  writeReserved(spec: CollectionSpec, id: string, fields: StoredFields): void {
    const hlc = this.clock.now();
    const isNew = this.store.table(spec.name)?.anyRowOf(id) === undefined;
    const stored = isNew ? [...fields, [CREATED_AT_FIELD, hlcMillis(hlc)] as const] : fields;
    this.transaction(() => this.writeFields(spec, id, stored, hlc));
  }

  create(collection: string, input: unknown): DatabaseResult<Doc> {
    const spec = this.collection(collection);
    if (spec.error) return spec;
    const hlc = this.clock.now();
    const fields = validateWrite(spec.data, input, "create", hlcMillis(hlc));
    if (fields.error) return fields;
    const id = this.newId();
    const stored = fields.data;
    stored.push([CREATED_AT_FIELD, hlcMillis(hlc)]);
    if (this.userId !== undefined) stored.push([CREATED_BY_FIELD, this.userId]);
    this.transaction(() => this.writeFields(spec.data, id, stored, hlc));
    return ok(this.read(collection, id)!);
  }

  /** `update` and `replace` of one document. */
  change(collection: string, id: unknown, input: unknown, mode: "update" | "replace"): DatabaseResult<void> {
    const spec = this.collection(collection);
    if (spec.error) return spec;
    if (typeof id !== "string")
      return fail("VALIDATION", `${collection}.${mode}: id must be a string, got ${typeof id}.`);
    return this.transaction(() => {
      const previous = this.read(collection, id);
      if (previous === undefined) return notFound(collection, id);
      return this.changeExisting(spec.data, id, previous, input, mode);
    });
  }

  delete(collection: string, id: unknown): DatabaseResult<void> {
    const spec = this.collection(collection);
    if (spec.error) return spec;
    if (typeof id !== "string")
      return fail("VALIDATION", `${collection}.delete: id must be a string, got ${typeof id}.`);
    if (this.store.table(collection)?.rowOf(id) === undefined) return notFound(collection, id);
    this.transaction(() => this.deleteDocument(collection, id));
    return ok(undefined);
  }

  /** `updateMany`, `replaceMany` and `deleteMany`: one transaction over every match. */
  changeMany(
    collection: string,
    args: unknown,
    mode: "update" | "replace" | "delete",
  ): DatabaseResult<{ count: number }> {
    const spec = this.collection(collection);
    if (spec.error) return spec;
    if (typeof args !== "object" || args === null) {
      return fail("VALIDATION", `${collection}.${mode}Many takes { where, fields }.`);
    }
    const { where, fields } = args as { where?: unknown; fields?: unknown };
    const query = normalizeQuery(spec.data, { where, fields: { id: true } }, this.schema.collections);
    if (query.error) return query;
    if (mode !== "delete" && fields === undefined) return fail("VALIDATION", `${collection}.${mode}Many needs fields.`);
    if (mode !== "delete" && typeof fields !== "function") {
      // Check object fields once, before anything is written.
      const checked = validateWrite(spec.data, fields, mode, 0);
      if (checked.error) return checked;
    }
    return this.transaction(() => {
      const table = this.store.table(collection);
      let ids: string[];
      try {
        ids = table === undefined ? [] : runQuery(this.store, query.data).map((row) => table.idOf(row));
      } catch (error) {
        if (error instanceof QueryCostError) return fail(error.code, error.message, { ...error.details });
        throw error;
      }
      for (const id of ids) {
        if (mode === "delete") {
          this.deleteDocument(collection, id);
          continue;
        }
        const result = this.changeExisting(spec.data, id, this.read(collection, id)!, fields, mode);
        if (result.error) return result;
      }
      return ok({ count: ids.length });
    });
  }

  /** The whole document (all fields and auto fields) or undefined. */
  read(collection: string, id: string): Doc | undefined {
    const table = this.store.table(collection);
    const row = table?.rowOf(id);
    if (table === undefined || row === undefined) return undefined;
    return this.fullDoc(collection).materialize(table, row);
  }

  private changeExisting(
    spec: CollectionSpec,
    id: string,
    previous: Doc,
    input: unknown,
    mode: WriteMode,
  ): DatabaseResult<void> {
    let given = input;
    if (typeof input === "function") {
      try {
        given = (input as (previous: Doc) => unknown)(previous);
      } catch (error) {
        return fail("VALIDATION", `${spec.name}.${mode}: the fields function threw: ${String(error)}`, { id });
      }
    }
    const hlc = this.clock.now();
    const fields = validateWrite(spec, given, mode, hlcMillis(hlc));
    if (fields.error) return fields;
    this.writeFields(spec, id, fields.data, hlc);
    return ok(undefined);
  }

  private writeFields(spec: CollectionSpec, id: string, fields: StoredFields, hlc: Hlc): void {
    const collection = spec.name;
    const plain = fields.filter(([field]) => spec.fields[field]?.type !== "refMany");
    this.store.setFields(collection, id, plain, hlc);
    if (this.recorded !== undefined) {
      const stamp = encodeHlc(hlc);
      for (const [field, value] of plain) this.recorded.push({ collection, id, field, value, hlc: stamp });
    }
    for (const [field, value] of fields) {
      if (spec.fields[field]?.type !== "refMany") continue;
      // A set is written element by element, so concurrent additions elsewhere survive.
      const table = this.store.table(collection);
      const row = table?.anyRowOf(id);
      const current = row === undefined ? undefined : (table!.get(row, field) as string[] | undefined);
      const next = new Set((value ?? []) as string[]);
      for (const member of current ?? [])
        if (!next.has(member)) this.setElement(collection, id, field, member, false, hlc);
      for (const member of next)
        if (!current?.includes(member)) this.setElement(collection, id, field, member, true, hlc);
    }
  }

  private setElement(collection: string, id: string, field: string, element: string, present: boolean, hlc: Hlc): void {
    this.store.setElement(collection, id, field, element, present, hlc);
    this.recorded?.push({ collection, id, field, element, value: present, hlc: encodeHlc(hlc) });
  }

  private deleteDocument(collection: string, id: string): void {
    const hlc = this.clock.now();
    this.store.delete(collection, id, hlc);
    this.recorded?.push({ collection, id, field: DELETED_FIELD, value: true, hlc: encodeHlc(hlc) });
  }

  private collection(name: string): DatabaseResult<CollectionSpec> {
    const spec = Object.hasOwn(this.schema.collections, name) ? this.schema.collections[name] : undefined;
    return spec === undefined ? fail("VALIDATION", `Unknown collection "${name}".`, { collection: name }) : ok(spec);
  }

  private fullDoc(collection: string): { query: NormalizedQuery; materialize: Materializer } {
    let compiled = this.fullDocs.get(collection);
    if (compiled === undefined) {
      const spec = this.schema.collections[collection]!;
      const fields = Object.fromEntries(
        ["id", ...Object.keys(spec.fields), "createdAt", "updatedAt", "createdBy"].map((field) => [field, true]),
      );
      const query = normalizeQuery(spec, { fields }).data!;
      compiled = { query, materialize: compileMaterializer(query) };
      this.fullDocs.set(collection, compiled);
    }
    return compiled;
  }
}

function notFound(collection: string, id: string) {
  return fail("NOT_FOUND", `No ${collection} document with id "${id}".`, { collection, id });
}
