import { randomBytes } from "node:crypto";
import {
  type BatchApi,
  createBatchCollection,
  createClock,
  createPreloadData,
  firstPageQuery,
  type PreloadData,
  type ResultDoc,
  type CreateInput,
  type DatabaseError,
  DatabaseError as TrellisError,
  type DatabaseResult,
  decodeHlc,
  type Doc,
  type EntitiesDef,
  type EntityDef,
  executeBatchOperation,
  idsGiven,
  fail,
  isAggregateQuery,
  LocalWriter,
  normalizeAggregateQuery,
  normalizeQuery,
  type NormalizedAggregateQuery,
  type NormalizedQuery,
  ok,
  type OneShotCollectionApi,
  type PreloadApi,
  QueryCostError,
  runAggregate,
  runQuery,
  compileMaterializer,
  type Schema,
  type Triple,
  TripleStore,
} from "@trellis/core";

/**
 * One collection, for server code: the client's one-shot queries and writes
 * ({@link OneShotCollectionApi}) against the server, typed by the schema; nothing here is live.
 */
export interface AdminCollection<E extends EntityDef, A extends EntitiesDef = {}>
  extends OneShotCollectionApi<E, A>, PreloadApi<E, A> {
  /** Creates a document on the server; returns it whole. `createdBy`: whose it is (default: the acting user, or none). */
  create(fields: CreateInput<E>, options?: { readonly createdBy?: string }): Promise<DatabaseResult<Doc<E>>>;
}

/** `admin.database`: a collection API per collection of the schema, and the client's `batch`. */
export type AdminDatabase<TEntities extends EntitiesDef> = {
  readonly [K in keyof TEntities]: AdminCollection<TEntities[K], TEntities>;
} & {
  readonly batch: BatchApi<TEntities>;
};

export interface AdminClientOptions<S extends Schema> {
  readonly schema: S;
  /** The server, e.g. "https://sync.example.com". */
  readonly serverUrl: string;
  readonly appId: string;
  /** A service key of the app (`trellis-server apps keys create`): keep it on the server. */
  readonly serviceKey: string;
  /** For tests and runtimes without a global fetch. */
  readonly fetch?: typeof fetch;
}

/** Privileged access to one app for server code (see docs/admin.md, "The admin client"). */
export interface AdminClient<S extends Schema> {
  /** Reads and writes past the app's permission rules. */
  readonly database: AdminDatabase<S["entities"]>;
  /** The same API acting as `userId`, under the rules: what that user may read and write. */
  asUser(userId: string): AdminClient<S>;
}

/**
 * A client for server code (Next.js server actions, SvelteKit form actions, jobs) with a service
 * key of the app: every call is one request (or two: a write first reads the documents it
 * changes) to the server's HTTP API, with no connection, cache or outbox kept. Writes reach live
 * clients like any other.
 *
 * @example
 * const admin = createAdminClient({ schema, serverUrl: process.env.TRELLIS_URL!, appId, serviceKey: process.env.TRELLIS_SERVICE_KEY! });
 * await admin.database.todos.create({ text: "From the server", done: false }, { createdBy: userId });
 * const { data: mine } = await admin.asUser(userId).database.todos.query({ where: { done: false } });
 */
export function createAdminClient<S extends Schema>(options: AdminClientOptions<S>): AdminClient<S> {
  for (const key of ["serverUrl", "appId", "serviceKey"] as const) {
    if (typeof options[key] !== "string" || options[key] === "")
      throw new TypeError(`createAdminClient: ${key} must be a non-empty string.`);
  }
  return clientActingAs(options, undefined);
}

function clientActingAs<S extends Schema>(options: AdminClientOptions<S>, userId: string | undefined): AdminClient<S> {
  const requests = new AdminRequests(options, userId);
  const collections = Object.keys(options.schema.collections);
  const batch = {
    ...Object.fromEntries(collections.map((name) => [name, createBatchCollection(name)])),
    execute: (operations: unknown) => requests.batch(operations),
  };
  const database = { ...Object.fromEntries(collections.map((name) => [name, collectionApi(requests, name)])), batch };
  return {
    database: database as unknown as AdminDatabase<S["entities"]>,
    asUser: (id) => {
      if (typeof id !== "string" || id === "") throw new TypeError("asUser: the user id must be a non-empty string.");
      return clientActingAs(options, id);
    },
  };
}

function collectionApi(requests: AdminRequests, collection: string): AdminCollection<EntityDef, EntitiesDef> {
  const api = {
    create: (fields: unknown, options?: { readonly createdBy?: string }) =>
      requests.write(requests.givenIds(collection, [fields]), options?.createdBy, (writer) =>
        writer.create(collection, fields),
      ),
    createMany: (documents: unknown, options?: unknown) =>
      requests.write(requests.givenIds(collection, documents), undefined, (writer) =>
        writer.createMany(collection, documents, options),
      ),
    update: ({ id, fields }: { id: string; fields: unknown }) =>
      requests.write(requests.byId(collection, id), undefined, (writer) =>
        writer.change(collection, id, fields, "update"),
      ),
    replace: ({ id, fields }: { id: string; fields: unknown }) =>
      requests.write(requests.byId(collection, id), undefined, (writer) =>
        writer.change(collection, id, fields, "replace"),
      ),
    delete: (id: string) =>
      requests.write(requests.byId(collection, id), undefined, (writer) => writer.delete(collection, id)),
    updateMany: (args: { where?: unknown }) =>
      requests.write(requests.matching(collection, args?.where), undefined, (writer) =>
        writer.changeMany(collection, args, "update"),
      ),
    replaceMany: (args: { where?: unknown }) =>
      requests.write(requests.matching(collection, args?.where), undefined, (writer) =>
        writer.changeMany(collection, args, "replace"),
      ),
    deleteMany: (args: { where?: unknown }) =>
      requests.write(requests.matching(collection, args?.where), undefined, (writer) =>
        writer.changeMany(collection, args, "delete"),
      ),
    query: (input?: unknown) => requests.query(collection, input ?? {}),
    queryOne: async (input?: unknown) => {
      const result = await requests.query(collection, firstOf(input));
      return result.error ? result : ok(result.data[0]);
    },
    preload: (input?: unknown) => requests.preload(collection, input ?? {}, "many"),
    preloadOne: (input?: unknown) => requests.preload(collection, firstOf(input), "one"),
    preloadPaginated: (input: unknown) => requests.preloadPaginated(collection, input),
  };
  return api as unknown as AdminCollection<EntityDef, EntitiesDef>;
}

/** The query for a first match: `limit: 1`. */
function firstOf(input: unknown): unknown {
  return typeof input === "object" && input !== null && !Array.isArray(input)
    ? { ...input, limit: 1 }
    : (input ?? { limit: 1 });
}

/** The largest push sent as one JSON body; larger ones go as lines. */
const JSON_PUSH_BYTES = 512 * 1024;

/** The requests of one admin client (privileged, or acting as a user). */
class AdminRequests {
  private readonly clientId = `admin-${randomBytes(8).toString("base64url")}`;

  constructor(
    private readonly options: AdminClientOptions<Schema>,
    private readonly userId: string | undefined,
  ) {}

  /** The query that reads one document whole. */
  byId(collection: string, id: unknown): DatabaseResult<NormalizedQuery> {
    return typeof id === "string"
      ? this.normalize(collection, { where: { id } })
      : fail("VALIDATION", `${collection}: id must be a string, got ${typeof id}.`);
  }

  /** What creating `documents` reads: the documents that hold the ids callers gave them (none: nothing to read). */
  givenIds(collection: string, documents: unknown): DatabaseResult<NormalizedQuery> | undefined {
    const ids = idsGiven(documents);
    return ids.length === 0 ? undefined : this.normalize(collection, { where: { id: { in: ids } } });
  }

  /** The query that reads every match of `where`, whole. */
  matching(collection: string, where: unknown): DatabaseResult<NormalizedQuery> {
    return this.normalize(collection, where === undefined ? {} : { where });
  }

  async query(collection: string, input: unknown): Promise<DatabaseResult<any[]>> {
    if (isAggregateQuery(input)) {
      const aggregated = await this.aggregate(collection, input);
      return aggregated.error ? aggregated : ok(aggregated.data.rows);
    }
    const query = this.normalize(collection, input);
    if (query.error) return query;
    const loaded = await this.load(query.data);
    return loaded.error ? loaded : this.run(loaded.data.store, query.data);
  }

  /**
   * An aggregate query's rows: the server answers the documents it aggregates over, and the
   * aggregate runs here (`allRows`: every row, its limit left out).
   */
  private async aggregate(
    collection: string,
    input: unknown,
    allRows = false,
  ): Promise<DatabaseResult<{ query: NormalizedAggregateQuery; rows: ResultDoc[] }>> {
    const spec = this.spec(collection);
    if (spec.error) return spec;
    const aggregate = normalizeAggregateQuery(spec.data, input, this.options.schema.collections);
    if (aggregate.error) return aggregate;
    const where = (input as { where?: unknown }).where;
    const base = this.normalize(collection, where === undefined ? {} : { where });
    if (base.error) return base;
    const loaded = await this.load(base.data);
    if (loaded.error) return loaded;
    const run = allRows ? { ...aggregate.data, limit: undefined } : aggregate.data;
    return ok({ query: aggregate.data, rows: runAggregate(loaded.data.store, run) });
  }

  /** A query's result (`many`) or first match (`one`) as preloaded data, with the server's triples and cursor. */
  async preload(
    collection: string,
    input: unknown,
    kind: "many" | "one",
  ): Promise<DatabaseResult<PreloadData<ResultDoc>>> {
    if (isAggregateQuery(input)) {
      // Only the rows travel: the client syncs the documents behind them itself.
      const aggregated = await this.aggregate(collection, input);
      if (aggregated.error) return aggregated;
      return ok(createPreloadData(kind, this.options.appId, aggregated.data.query, aggregated.data.rows, null, null));
    }
    const query = this.normalize(collection, input);
    if (query.error) return query;
    const loaded = await this.load(query.data);
    if (loaded.error) return loaded;
    const docs = this.run(loaded.data.store, query.data);
    return docs.error
      ? docs
      : ok(createPreloadData(kind, this.options.appId, query.data, docs.data, null, loaded.data.sync));
  }

  /**
   * The first page of `{ ...query, pageSize }`, as the client's `preloadPaginated` makes it: the
   * server answers one document past the page, so the page knows whether another follows.
   */
  async preloadPaginated(collection: string, input: unknown): Promise<DatabaseResult<PreloadData<ResultDoc>>> {
    const first = firstPageQuery(`${collection}.preloadPaginated`, input);
    if (first.error) return first;
    const { pageSize } = first.data;
    if (isAggregateQuery(first.data.query)) {
      const aggregated = await this.aggregate(collection, first.data.query, true);
      if (aggregated.error) return aggregated;
      const { query, rows } = aggregated.data;
      const page = { pageSize, totalCount: rows.length };
      return ok(createPreloadData("paginated", this.options.appId, query, rows.slice(0, pageSize), page, null));
    }
    const query = this.normalize(collection, first.data.query);
    if (query.error) return query;
    const loaded = await this.load({ ...query.data, limit: pageSize + 1 });
    if (loaded.error) return loaded;
    const all = this.run(loaded.data.store, { ...query.data, limit: undefined });
    if (all.error) return all;
    const page = { pageSize, totalCount: all.data.length };
    return ok(
      createPreloadData(
        "paginated",
        this.options.appId,
        query.data,
        all.data.slice(0, pageSize),
        page,
        loaded.data.sync,
      ),
    );
  }

  /** Runs a query on a scratch store with the one engine. */
  private run(store: TripleStore, query: NormalizedQuery): DatabaseResult<ResultDoc[]> {
    const table = store.table(query.collection);
    if (table === undefined) return ok([]);
    try {
      const materialize = compileMaterializer(query, store).pass();
      return ok(runQuery(store, query).map((row) => materialize(table, row)));
    } catch (error) {
      if (error instanceof QueryCostError) return fail(error.code, error.message, { ...error.details });
      throw error;
    }
  }

  /**
   * Reads what `read` matches into a scratch store, runs `body` on it (the client's own write
   * logic: validation, clock, triples), and pushes the triples it wrote as one batch.
   */
  async write<T>(
    read: DatabaseResult<NormalizedQuery> | undefined,
    createdBy: string | undefined,
    body: (writer: LocalWriter) => DatabaseResult<T>,
  ): Promise<DatabaseResult<T>> {
    if (read?.error) return read;
    const loaded =
      read === undefined
        ? ok({ store: new TripleStore(), clock: this.clock(), sync: undefined })
        : await this.load(read.data);
    if (loaded.error) return loaded;
    const written: Triple[] = [];
    const owner = createdBy ?? this.userId;
    const writer = new LocalWriter(this.options.schema, loaded.data.store, loaded.data.clock, owner, newId, (triples) =>
      written.push(...triples),
    );
    const result = body(writer);
    if (result.error || written.length === 0) return result;
    const pushed = await this.push(written);
    return pushed.error ? pushed : result;
  }

  /**
   * Runs batch operations in order, each as its single call would run: it reads what it changes
   * and pushes its own triples. One push per operation, because the server refuses a push whole
   * when the rules refuse any change in it, and one refused operation must not take the others
   * with it; each operation also reads what the ones before it wrote.
   */
  async batch(operations: unknown): Promise<DatabaseResult<DatabaseResult<unknown>[]>> {
    if (!Array.isArray(operations)) return fail("VALIDATION", "batch.execute takes an array of operations.");
    const results: DatabaseResult<unknown>[] = [];
    for (const operation of operations) {
      results.push(
        await this.write(this.readOf(operation), undefined, (writer) =>
          executeBatchOperation(this.options.schema, writer, operation),
        ),
      );
    }
    return ok(results);
  }

  /** What a batch operation reads before it writes: nothing for a create with generated ids, or for a malformed operation (its write says what is wrong). */
  private readOf(operation: unknown): DatabaseResult<NormalizedQuery> | undefined {
    const { kind, collection, id, where } = (
      typeof operation === "object" && operation !== null ? operation : {}
    ) as Record<string, unknown>;
    if (typeof collection !== "string" || !Object.hasOwn(this.options.schema.collections, collection)) return undefined;
    const { fields, documents } = operation as Record<string, unknown>;
    if (kind === "create") return this.givenIds(collection, [fields]);
    if (kind === "createMany") return this.givenIds(collection, documents);
    if (kind === "update" || kind === "replace" || kind === "delete") return this.byId(collection, id);
    if (kind === "updateMany" || kind === "replaceMany" || kind === "deleteMany")
      return this.matching(collection, where);
    return undefined;
  }

  private clock() {
    return createClock({ node: this.clientId });
  }

  /** The server's answer to `query` (each document in full) in a fresh store, its clock past every reading in it. */
  private async load(query: NormalizedQuery): Promise<
    DatabaseResult<{
      store: TripleStore;
      clock: ReturnType<typeof createClock>;
      sync: { triples: Triple[]; cursor: string };
    }>
  > {
    const answer = await this.post(
      "/v1/query",
      JSON.stringify({ appId: this.options.appId, query, cursor: null }),
      "application/json",
    );
    if (answer.error) return answer;
    const { triples, cursor } = answer.data as { triples?: unknown; cursor?: unknown };
    if (!Array.isArray(triples) || typeof cursor !== "string")
      return fail("PROTOCOL", "The server's answer to a query has no triples or cursor.");
    const store = new TripleStore();
    const clock = this.clock();
    store.transact(() => {
      for (const triple of triples as Triple[]) {
        const hlc = decodeHlc(triple.hlc);
        // A write made here must win over what it read: the clock moves past every reading.
        if (!hlc.error) clock.receive(hlc.data);
        store.applyTriple(triple);
      }
    });
    return ok({ store, clock, sync: { triples: triples as Triple[], cursor } });
  }

  private async push(triples: readonly Triple[]): Promise<DatabaseResult<void>> {
    const envelope = { appId: this.options.appId, clientId: this.clientId, batchId: newId() };
    const body = JSON.stringify({ ...envelope, triples });
    const answer =
      Buffer.byteLength(body) <= JSON_PUSH_BYTES
        ? await this.post("/v1/push", body, "application/json")
        : await this.post(
            "/v1/push",
            [JSON.stringify(envelope), ...triples.map((triple) => JSON.stringify(triple))].join("\n"),
            "application/x-ndjson",
          );
    return answer.error ? answer : ok(undefined);
  }

  private async post(path: string, body: string, contentType: string): Promise<DatabaseResult<unknown>> {
    const url = `${this.options.serverUrl.replace(/\/+$/, "")}${path}`;
    const headers: Record<string, string> = {
      "content-type": contentType,
      authorization: `Bearer ${this.options.serviceKey}`,
    };
    if (this.userId !== undefined) headers["x-trellis-user"] = this.userId;
    let response: Response;
    let answer: unknown;
    try {
      response = await (this.options.fetch ?? fetch)(url, { method: "POST", headers, body });
      answer = await response.json().catch(() => undefined);
    } catch (error) {
      return fail("NETWORK", `POST ${url} failed: ${(error as Error).message}`);
    }
    if (response.ok && answer !== undefined) return ok(answer);
    const refusal = (
      answer as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined
    )?.error;
    if (typeof refusal?.code !== "string" || typeof refusal.message !== "string")
      return fail("NETWORK", `POST ${url} answered ${response.status} without a Trellis error.`, {
        status: response.status,
      });
    return {
      data: undefined,
      error: new TrellisError(refusal.code as DatabaseError["code"], refusal.message, refusal.details),
    };
  }

  private spec(collection: string) {
    const spec = Object.hasOwn(this.options.schema.collections, collection)
      ? this.options.schema.collections[collection]
      : undefined;
    return spec === undefined ? fail("VALIDATION", `Unknown collection "${collection}".`, { collection }) : ok(spec);
  }

  private normalize(collection: string, input: unknown): DatabaseResult<NormalizedQuery> {
    const spec = this.spec(collection);
    return spec.error ? spec : normalizeQuery(spec.data, input, this.options.schema.collections);
  }
}

/** A document id in the client's form: 21 URL-safe characters from a secure random source. */
function newId(): string {
  return randomBytes(16).toString("base64url").slice(0, 21);
}
