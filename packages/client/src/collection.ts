import { type DatabaseResult, idsGiven, type LiveQueryRegistry, type LocalWriter, type ResultDoc } from "@trellis/core";
import { PaginatedQuery } from "./paginated.js";
import type { PaginatedController } from "./paginated-types.js";
import type { AssembledPersistence } from "./client-persistence.js";
import type { MemoryNeed } from "./persistence/working-set.js";
import type { PreloadData, PreloadKind } from "./preload.js";
import type { QueryService } from "./query-service.js";
import type { SubscribeCallback, Subscription } from "./types.js";

/** What every collection of one client shares: the parts `createClient` wires. */
export interface CollectionContext {
  readonly writer: LocalWriter;
  readonly queries: QueryService;
  readonly registry: LiveQueryRegistry;
  readonly persistence: Pick<AssembledPersistence, "write">;
  /** Throws once the client is closed; `name` is the call, like `"todos.create"`. */
  assertOpen(name: string): void;
}

type IdArgs = { readonly id?: unknown; readonly fields?: unknown } | undefined;

/**
 * One collection of a client (`client.database.todos`): writes go to the local writer once what
 * they read is loaded from storage, reads and subscriptions to the query service. Typed as
 * {@link CollectionApi} for users; its methods check their arguments at run time. They are
 * arrow-function properties so they keep working detached (`const { create } = client.database.todos`).
 *
 * @example
 * const { create, subscribe } = client.database.todos; // detached, they still work
 * await create({ text: "Write docs", done: false });
 * subscribe({ where: { done: false } }, (open) => render(open));
 */
export class Collection {
  constructor(
    readonly name: string,
    private readonly context: CollectionContext,
  ) {}

  /**
   * Creates a document; resolves with it whole (auto fields included) once stored.
   *
   * @example
   * const todos = client.database.todos;
   * const { data: todo } = await todos.create({ text: "Write docs", done: false, dueAt: new Date("2026-12-24") });
   */
  readonly create = (fields: unknown): Promise<DatabaseResult<ResultDoc>> =>
    // A caller's id is read: it must not be in use, in memory or in storage.
    this.write("create", idsGiven([fields]), () => this.context.writer.create(this.name, fields));

  /**
   * Creates documents all or none, in one transaction; resolves with them whole, or with
   * `{ count }` when `options.returnDocuments` is false.
   *
   * @example
   * const todos = client.database.todos;
   * const { data: created, error } = await todos.createMany([
   *   { text: "Write docs", done: false },
   *   { id: "release-notes", text: "Write the release notes", done: false },
   * ]);
   * if (error) showToast(`Document ${String(error.details?.index)}: ${error.message}`);
   */
  readonly createMany = (
    documents: unknown,
    options?: unknown,
  ): Promise<DatabaseResult<ResultDoc[] | { count: number }>> =>
    this.write("createMany", idsGiven(documents), () => this.context.writer.createMany(this.name, documents, options));

  /**
   * Changes some fields of a document; `fields` may be a function of the previous document.
   *
   * @example
   * const todos = client.database.todos;
   * const { data: todo } = await todos.queryOne({ where: { text: "Write docs" } });
   * if (todo) await todos.update({ id: todo.id, fields: (prev) => ({ done: !prev.done }) });
   */
  readonly update = (args: IdArgs): Promise<DatabaseResult<void>> =>
    this.write("update", [args?.id], () => this.context.writer.change(this.name, args?.id, args?.fields, "update"));

  /**
   * Replaces a document's fields: those not given are removed.
   *
   * @example
   * const todos = client.database.todos;
   * const { data: todo } = await todos.queryOne({ where: { text: "Write docs" } });
   * if (todo) await todos.replace({ id: todo.id, fields: { text: "Write the docs", done: false } }); // dueAt removed
   */
  readonly replace = (args: IdArgs): Promise<DatabaseResult<void>> =>
    this.write("replace", [args?.id], () => this.context.writer.change(this.name, args?.id, args?.fields, "replace"));

  /**
   * Deletes a document.
   *
   * @example
   * const todos = client.database.todos;
   * const { data: todo } = await todos.queryOne({ where: { text: "Write docs" } });
   * if (todo) await todos.delete(todo.id);
   */
  readonly delete = (id: unknown): Promise<DatabaseResult<void>> =>
    this.write("delete", [id], () => this.context.writer.delete(this.name, id));

  /**
   * Updates every document matching `where`; resolves with how many.
   *
   * @example
   * const todos = client.database.todos;
   * const { data } = await todos.updateMany({ where: { done: false }, fields: { done: true } });
   * showToast(`${data?.count ?? 0} todos done`);
   */
  readonly updateMany = (args: unknown): Promise<DatabaseResult<{ count: number }>> =>
    this.writeAll("updateMany", () => this.context.writer.changeMany(this.name, args, "update"));

  /**
   * Replaces the fields of every document matching `where`; resolves with how many.
   *
   * @example
   * const todos = client.database.todos;
   * await todos.replaceMany({ where: { done: true }, fields: { text: "Done", done: true } }); // dueAt removed
   */
  readonly replaceMany = (args: unknown): Promise<DatabaseResult<{ count: number }>> =>
    this.writeAll("replaceMany", () => this.context.writer.changeMany(this.name, args, "replace"));

  /**
   * Deletes every document matching `where`; resolves with how many.
   *
   * @example
   * const todos = client.database.todos;
   * const { data } = await todos.deleteMany({ where: { done: true } });
   * showToast(`${data?.count ?? 0} done todos cleared`);
   */
  readonly deleteMany = (args: unknown): Promise<DatabaseResult<{ count: number }>> =>
    this.writeAll("deleteMany", () => this.context.writer.changeMany(this.name, args, "delete"));

  /**
   * Answers a query once (from local data when it is covered by what the client syncs).
   *
   * @example
   * const todos = client.database.todos;
   * const { data: open, error } = await todos.query({ where: { done: false }, orderBy: ["dueAt", "asc"] });
   * if (error) showToast(error.message);
   * else render(open);
   */
  readonly query = (query?: unknown): Promise<DatabaseResult<ResultDoc[]>> =>
    this.open("query").queries.query(this.name, query);

  /**
   * Answers a query's first match once.
   *
   * @example
   * const todos = client.database.todos;
   * const { data: next } = await todos.queryOne({ where: { done: false }, orderBy: ["dueAt", "asc"] });
   */
  readonly queryOne = (query?: unknown): Promise<DatabaseResult<ResultDoc | undefined>> =>
    this.open("queryOne").queries.queryOne(this.name, query);

  /**
   * Follows a query (or preloaded data): `callback` runs at once and whenever the result changes.
   *
   * @example
   * const todos = client.database.todos;
   * const subscription = todos.subscribe({ where: { done: false } }, (open) => render(open));
   * subscription.unsubscribe(); // when the view goes
   */
  readonly subscribe = (
    query: unknown,
    callback: SubscribeCallback<readonly ResultDoc[]>,
  ): Subscription<readonly ResultDoc[]> => this.open("subscribe").queries.subscribe(this.name, query, callback);

  /**
   * Follows a query's first match (or preloaded data from `preloadOne`).
   *
   * @example
   * const todos = client.database.todos;
   * todos.subscribeOne({ where: { done: false }, orderBy: ["dueAt", "asc"] }, (next) => render(next));
   */
  readonly subscribeOne = (
    query: unknown,
    callback: SubscribeCallback<ResultDoc | undefined>,
  ): Subscription<ResultDoc | undefined> => this.open("subscribeOne").queries.subscribeOne(this.name, query, callback);

  /**
   * Pages through a query (or continues a preloaded page), live and keyset-based.
   *
   * @example
   * const todos = client.database.todos;
   * const pages = todos.paginated({ orderBy: ["text", "asc"], pageSize: 20 });
   */
  readonly paginated = (input: unknown): PaginatedController<ResultDoc> => {
    const { queries, registry } = this.open("paginated");
    return PaginatedQuery.create(queries, registry, this.name, input);
  };

  /**
   * Answers a query as plain, serialisable data that `subscribe` and the bindings continue.
   *
   * @example
   * const todos = client.database.todos;
   * const { data: preloaded } = await todos.preload({ where: { done: false } });
   * if (preloaded) todos.subscribe(preloaded, (open) => render(open)); // in the browser
   */
  readonly preload = (query?: unknown): Promise<DatabaseResult<PreloadData<ResultDoc, "many">>> =>
    this.preloadAs("preload", query, "many");

  /**
   * Answers a query's first match as plain, serialisable data that `subscribeOne` continues.
   *
   * @example
   * const todos = client.database.todos;
   * const { data: preloaded } = await todos.preloadOne({ where: { done: false }, orderBy: ["dueAt", "asc"] });
   * if (preloaded) todos.subscribeOne(preloaded, (next) => render(next)); // in the browser
   */
  readonly preloadOne = (query?: unknown): Promise<DatabaseResult<PreloadData<ResultDoc, "one">>> =>
    this.preloadAs("preloadOne", query, "one");

  /**
   * Answers a paginated query's first page as plain data that `paginated` continues.
   *
   * @example
   * const todos = client.database.todos;
   * const { data: page } = await todos.preloadPaginated({ orderBy: ["text", "asc"], pageSize: 20 });
   * if (page) todos.paginated(page); // in the browser
   */
  readonly preloadPaginated = (input: unknown): Promise<DatabaseResult<PreloadData<ResultDoc, "paginated">>> =>
    this.preloadAs("preloadPaginated", input, "paginated");

  /**
   * Preloads with the code that makes preloaded data, which loads on first use: only server
   * rendering makes it. Checks the client is open at once.
   */
  private preloadAs<K extends PreloadKind>(
    call: string,
    input: unknown,
    kind: K,
  ): Promise<DatabaseResult<PreloadData<ResultDoc, K>>> {
    const { queries, registry } = this.open(call);
    return import("./preload-query.js").then(({ preload }) => preload(queries, registry, this.name, input, kind));
  }

  /** The client's parts, once it is checked to be open (`call` names the method in the error). */
  private open(call: string): CollectionContext {
    this.context.assertOpen(`${this.name}.${call}`);
    return this.context;
  }

  /** A write by id: it reads only the documents it names (none for a create with generated ids). */
  private write<T>(call: string, ids: readonly unknown[], body: () => DatabaseResult<T>): Promise<DatabaseResult<T>> {
    return this.run(call, [{ collection: this.name, ids: ids.filter((id) => typeof id === "string") }], body);
  }

  /** A `*Many` write: it reads the whole collection. */
  private writeAll<T>(call: string, body: () => DatabaseResult<T>): Promise<DatabaseResult<T>> {
    return this.run(call, [{ collection: this.name }], body);
  }

  /** Checks the client is open at once; applies `body` once what it reads is loaded, resolves once stored. */
  private run<T>(call: string, needs: MemoryNeed[], body: () => DatabaseResult<T>): Promise<DatabaseResult<T>> {
    const { persistence } = this.open(call);
    return settled(() => persistence.write(() => needs, body));
  }
}

/** `body`'s result as a promise; a throw becomes a rejection, as in an async function. */
async function settled<T>(body: () => T | Promise<T>): Promise<T> {
  return body();
}
