import { type DatabaseResult, fail, ok } from "../errors.js";
import { type Clock, encodeHlc, type Hlc, hlcMillis } from "../hlc.js";
import { compileMaterializer, type Materializer } from "../query/materialize.js";
import { normalizeQuery } from "../query/normalize.js";
import type { NormalizedQuery } from "../query/normalized-query.js";
import { QueryCostError } from "../query/query-cost.js";
import { runQuery } from "../query/run-query.js";
import type { CollectionSpec, Schema } from "../schema/types.js";
import {
  checkWrite,
  describe,
  type StoredFieldSink,
  type StoredFields,
  validateWrite,
  type WriteMode,
} from "../schema/validate.js";
import { ID_RULE, isId } from "../ids.js";
import type { TripleStore } from "../store/triple-store.js";
import { CREATED_AT_FIELD, CREATED_BY_FIELD, DELETED_FIELD, type Triple } from "../triples.js";

/** Fields given as an object or as a function of the current document. */
export type FieldsInput = Record<string, unknown> | ((previous: Record<string, unknown>) => unknown);

type Doc = Record<string, unknown>;

/** Options of `createMany`. */
export interface CreateManyOptions {
  /**
   * `false`: resolve with `{ count }` instead of the created documents, which spares building
   * them (for bulk loads that read nothing back). Default `true`.
   */
  readonly returnDocuments?: boolean;
}

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
  private lastStamp: { readonly hlc: Hlc; readonly text: string } | undefined;
  private readonly setFieldsOf = new WeakMap<CollectionSpec, boolean>();

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

  /** Creates one document: `input` holds its fields and, optionally, its `id` (see {@link createMany}). */
  create(collection: string, input: unknown): DatabaseResult<Doc> {
    const created = this.createAll(collection, [input], true, `${collection}.create`);
    return created.error ? created : ok(created.data[0]!);
  }

  /**
   * Creates documents all or none, as one transaction, each under the next clock reading: every input is
   * checked before anything is written, and an error names the failing document by `index`
   * (in `details`). Returns the documents whole, or only `{ count }` with
   * `{ returnDocuments: false }` (a bulk load that reads nothing back skips building them).
   */
  createMany(collection: string, inputs: unknown, options?: unknown): DatabaseResult<Doc[] | { count: number }> {
    const call = `${collection}.createMany`;
    const { returnDocuments = true } = (options ?? {}) as CreateManyOptions;
    if (
      options !== undefined &&
      (typeof options !== "object" ||
        options === null ||
        typeof returnDocuments !== "boolean" ||
        Object.keys(options).some((key) => key !== "returnDocuments"))
    )
      return fail("VALIDATION", `${call}: options must be { returnDocuments?: boolean }, got ${describe(options)}.`);
    if (!Array.isArray(inputs))
      return fail("VALIDATION", `${call} takes an array of documents, got ${describe(inputs)}.`);
    const created = this.createAll(collection, inputs, returnDocuments, call);
    return created.error || returnDocuments ? created : ok({ count: inputs.length });
  }

  /**
   * `create` (one input) and `createMany`: checks every input, then writes them in one
   * transaction, each under the next clock reading; returns the documents (none unless
   * `returnDocuments`).
   */
  private createAll(
    collection: string,
    inputs: readonly unknown[],
    returnDocuments: boolean,
    call: string,
  ): DatabaseResult<Doc[]> {
    const spec = this.collection(collection);
    if (spec.error) return spec;
    if (inputs.length === 0) return ok([]);
    const hlc = this.clock.now();
    const nowMs = hlcMillis(hlc);
    const isMany = call.endsWith("Many");
    // Checked first, then checked again as written straight into the store: holding every
    // document's stored form until the write (or building one per document at all) costs a large
    // call more in allocation and garbage collection than checking twice. A single create keeps
    // its one.
    const kept: StoredFields | undefined = isMany ? undefined : [];
    let given: Map<string, number> | undefined;
    for (let index = 0; index < inputs.length; index++) {
      const input = inputs[index];
      // A caller's id must be new to this replica: taking over a document (or a deleted one's id,
      // which stays deleted) is refused.
      const id = idOf(input);
      const error =
        (id === undefined ? undefined : this.newIdOf(collection, id, call).error) ??
        checkWrite(spec.data, withoutId(input), "create", nowMs, kept && ((...cell) => void kept.push(cell))).error;
      if (error) {
        const { code, message, details } = error;
        return isMany
          ? fail(code, `${call}: document ${index}: ${message}`, { ...details, index })
          : { data: undefined, error };
      }
      if (id === undefined) continue;
      const first = (given ??= new Map()).get(id as string);
      if (first !== undefined)
        return fail("VALIDATION", `${call}: documents ${first} and ${index} both have id "${id}".`, {
          collection,
          id,
          index,
        });
      given.set(id as string, index);
    }
    const rows = this.transaction(() => this.writeNew(spec.data, inputs, hlc, given, kept));
    if (!returnDocuments) return ok([]);
    const table = this.store.table(collection)!;
    const materialize = this.fullDoc(collection).materialize.pass();
    return ok(rows.map((row) => materialize(table, row)));
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

  /**
   * Writes documents `createAll` checked, each under the next clock reading (and its
   * `createdAt`), so documents of one call sort by `createdAt` in the order given, as creates
   * made one after another do. Returns their rows.
   */
  private writeNew(
    spec: CollectionSpec,
    inputs: readonly unknown[],
    hlc: Hlc,
    given: ReadonlyMap<string, number> | undefined,
    kept: StoredFields | undefined,
  ): number[] {
    const collection = spec.name;
    const cells = kept || this.hasSets(spec) ? undefined : this.store.cellWriter(collection);
    let id = "";
    let stamp = "";
    const writeCell: StoredFieldSink | undefined =
      cells &&
      ((field, value) => {
        cells.set(field, value);
        this.recorded?.push({ collection, id, field, value, hlc: stamp });
      });
    // A list of the fields is written instead for a single create, which checked them into
    // `kept`, and for collections with set fields, written element by element (see writeFields).
    let fields: StoredFields = [];
    const sink = writeCell ?? ((...cell: [string, unknown]) => void fields.push(cell));
    const rows: number[] = [];
    for (let index = 0; index < inputs.length; index++) {
      const input = inputs[index];
      const documentHlc = index === 0 ? hlc : this.clock.now();
      const nowMs = hlcMillis(documentHlc);
      id = (idOf(input) as string | undefined) ?? this.generatedId(given);
      if (writeCell) {
        if (this.recorded) stamp = this.stamp(documentHlc);
        rows.push(cells!.start(id, documentHlc));
      } else fields = kept ?? [];
      if (!kept) checkWrite(spec, withoutId(input), "create", nowMs, sink);
      sink(CREATED_AT_FIELD, nowMs);
      if (this.userId !== undefined) sink(CREATED_BY_FIELD, this.userId);
      if (!writeCell) rows.push(this.writeFields(spec, id, fields, documentHlc));
    }
    return rows;
  }

  /** A generated id none of the caller's ids (`given`) took. */
  private generatedId(given: ReadonlyMap<string, number> | undefined): string {
    let id = this.newId();
    while (given?.has(id)) id = this.newId();
    return id;
  }

  /** A caller's id for a new document, checked: well-formed, and never seen in this collection. */
  private newIdOf(collection: string, id: unknown, call: string): DatabaseResult<string> {
    if (!isId(id))
      return fail("VALIDATION", `${call}: id must be ${ID_RULE}, got ${describe(id)}.`, { collection, field: "id" });
    const row = this.store.table(collection)?.anyRowOf(id);
    if (row === undefined) return ok(id);
    const state = this.store.table(collection)!.isDeleted(row) ? "was deleted (ids are not reused)" : "exists already";
    return fail("VALIDATION", `${call}: a ${collection} document with id "${id}" ${state}.`, {
      collection,
      field: "id",
      id,
    });
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

  /** Writes a document's fields under one HLC; returns its row. */
  private writeFields(spec: CollectionSpec, id: string, fields: StoredFields, hlc: Hlc): number {
    const collection = spec.name;
    const hasSets = this.hasSets(spec);
    const plain = hasSets ? fields.filter(([field]) => spec.fields[field]?.type !== "refMany") : fields;
    const row = this.store.setFields(collection, id, plain, hlc);
    if (this.recorded !== undefined) {
      const stamp = this.stamp(hlc);
      for (const [field, value] of plain) this.recorded.push({ collection, id, field, value, hlc: stamp });
    }
    if (!hasSets) return row;
    const table = this.store.table(collection)!;
    for (const [field, value] of fields) {
      if (spec.fields[field]?.type !== "refMany") continue;
      // A set is written element by element, so concurrent additions elsewhere survive.
      const current = table.get(row, field) as string[] | undefined;
      const next = new Set((value ?? []) as string[]);
      for (const member of current ?? [])
        if (!next.has(member)) this.setElement(collection, id, field, member, false, hlc);
      for (const member of next)
        if (!current?.includes(member)) this.setElement(collection, id, field, member, true, hlc);
    }
    return row;
  }

  /** Whether a collection has set fields (`t.refMany`), which are written element by element. */
  private hasSets(spec: CollectionSpec): boolean {
    let hasSets = this.setFieldsOf.get(spec);
    if (hasSets === undefined) {
      hasSets = Object.values(spec.fields).some((field) => field.type === "refMany");
      this.setFieldsOf.set(spec, hasSets);
    }
    return hasSets;
  }

  /** `hlc` encoded; the last one is kept, since every triple of a document has the same. */
  private stamp(hlc: Hlc): string {
    if (this.lastStamp?.hlc !== hlc) this.lastStamp = { hlc, text: encodeHlc(hlc) };
    return this.lastStamp.text;
  }

  private setElement(collection: string, id: string, field: string, element: string, present: boolean, hlc: Hlc): void {
    this.store.setElement(collection, id, field, element, present, hlc);
    this.recorded?.push({ collection, id, field, element, value: present, hlc: this.stamp(hlc) });
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

/** The caller's id of a document to create, if it gives one. */
function idOf(input: unknown): unknown {
  return typeof input === "object" && input !== null && Object.hasOwn(input, "id") ? (input as Doc).id : undefined;
}

/** A create's input without its `id`, which is not one of its fields. */
function withoutId(input: unknown): unknown {
  if (typeof input !== "object" || input === null || !Object.hasOwn(input, "id")) return input;
  const { id: _id, ...fields } = input as Doc;
  return fields;
}

function notFound(collection: string, id: string) {
  return fail("NOT_FOUND", `No ${collection} document with id "${id}".`, { collection, id });
}
