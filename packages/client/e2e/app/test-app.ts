// The page the browser tests load: bundles @trellis/client (from source) with a small schema and
// exposes `window.app`, which tests drive through `page.evaluate` / `page.waitForFunction`.
// Everything a test reads back must be plain, serialisable data.
import { type ClientOptions, createClient, createIndexedDbStorage, type TrellisClient } from "@trellis/client";
import { createSchema, type FieldDef, type Schema, t } from "@trellis/core";

/** A field with a fallback; optional when `O` is true. */
type Field<T, O extends boolean = false> = FieldDef<T, O, true>;

/**
 * The schema's types, spelled out: the repository's typecheck emits declarations, and those
 * cannot name the field types `t` infers (as in bench/src/sync/schema.ts).
 */
type TestEntities = {
  readonly users: { readonly name: Field<string> };
  readonly todos: {
    readonly title: Field<string>;
    readonly done: Field<boolean, true>;
    /** Who may change it and whom it is shared with, for the permission tests' rules. */
    readonly ownerId: Field<string, true>;
    readonly sharedWith: FieldDef<string[], true, true>;
  };
};
type TestRooms = {
  readonly board: {
    readonly events: { readonly ping: Field<number> };
    readonly userStatus: { readonly cursor: Field<{ x: number; y: number }> };
    readonly roomStatus: { readonly topic: Field<string, true> };
  };
};
export type TestSchema = Schema<TestEntities, TestRooms>;

/** The schema every browser test shares; add collections or room types here as tests need them. */
export const schema: TestSchema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }) },
    todos: {
      title: t.string({ fallback: "" }),
      done: t.boolean({ optional: true, fallback: false }),
      ownerId: t.string({ optional: true, fallback: "" }),
      sharedWith: t.refMany("users"),
    },
  },
  rooms: {
    board: {
      events: { ping: t.number({ fallback: 0 }) },
      userStatus: { cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }) }) },
      roomStatus: { topic: t.string({ optional: true, fallback: "" }) },
    },
  },
});

/** What `window.app.start` accepts: plain data, since it crosses from Node into the page. */
export interface StartOptions {
  readonly serverUrl?: string;
  readonly appId: string;
  readonly userId?: string;
  /** `createClient`'s `storage`; omitted, the client's default (IndexedDB in a browser). */
  readonly storage?: "memory" | "indexeddb";
  /** Further plain `createClient` options (e.g. `{ reconnect: { baseMs: 50, maxMs: 200 } }`). */
  readonly options?: Record<string, unknown>;
}

/** A todo as the watched views hold it. */
export interface TodoRow {
  readonly id: string;
  readonly title: string;
  readonly done: boolean;
  readonly createdBy: string | undefined;
}

/** The API on `window.app`. */
export interface TestApp {
  /** The running client, or undefined before `start` / after `stop`. */
  client: TrellisClient<TestSchema> | undefined;
  /** The latest rows of each `watchTodos` view, by name. */
  readonly views: Record<string, readonly TodoRow[] | undefined>;
  /** Creates the client; returns its client id. */
  start(options: StartOptions): string;
  /** Subscribes to the todos (ordered by title) and keeps the latest rows in `views[name]`. */
  watchTodos(name?: string): void;
  /** The same for the todos not done: `views.open`. */
  watchOpen(): void;
  /** Creates a todo owned by the client's user; returns its id, or throws with the error's code and message. */
  createTodo(title: string, done?: boolean, sharedWith?: string[]): Promise<string>;
  /** Updates a todo's fields, or throws with the error's code and message. */
  updateTodo(id: string, fields: { title?: string; done?: boolean; sharedWith?: string[] }): Promise<void>;
  /** The ids of the todos stored in the app's IndexedDB database, read directly (stop the client first). */
  storedTodoIds(appId: string): Promise<string[]>;
  /**
   * Creates todos one after another until the page goes away, logging `stored:<id>` for each
   * write whose promise resolved without error: the writes the client reported as stored.
   */
  writeUntilUnload(prefix: string): void;
  /** Creates `count` todos titled `seed-00000`… in one `createMany`, every third one done. */
  seedTodos(count: number): Promise<void>;
  /**
   * Follows the newest `limit` open todos; once the first result is in, `views.newest` holds its
   * titles and `newestFrom` what the client read it from (the latest `trellis:early-answer`
   * mark's `from` then; undefined without one: the whole collection).
   */
  watchNewest(limit: number): void;
  newestFrom: string | undefined;
  /** The titles of the newest `limit` open todos (a one-shot query, on the whole collection). */
  newestTitles(limit: number): Promise<string[]>;
  /** The titles of the done todos, sorted (a one-shot query with an equality filter). */
  doneTitles(): Promise<string[]>;
  /** Waits for stored data, then returns every todo id (a one-shot query). */
  todoIds(): Promise<string[]>;
  /** The connection's state and pending write count, e.g. "online/0". */
  status(): string;
  /** Closes the client. */
  stop(): Promise<void>;
}

declare global {
  interface Window {
    app: TestApp;
  }
}

const unsubscribes: (() => void)[] = [];

function running(): TrellisClient<TestSchema> {
  if (app.client === undefined) throw new Error("window.app: call start() first.");
  return app.client;
}

/** Keeps the latest rows of the todos (only those not done: `isOpen`) in `views[name]`. */
function watch(name: string, isOpen: boolean): void {
  const todos = running().database.todos;
  const fields = { id: true, title: true, done: true, createdBy: true } as const;
  const show = (rows: readonly TodoRow[] | undefined, error: { code: string; message: string } | undefined) => {
    if (error !== undefined) console.error(`watch(${name}): ${error.code}: ${error.message}`);
    app.views[name] = rows?.map((row) => ({ id: row.id, title: row.title, done: row.done, createdBy: row.createdBy }));
  };
  const subscription = isOpen
    ? todos.subscribe({ where: { done: false }, orderBy: ["title", "asc"], fields }, show)
    : todos.subscribe({ orderBy: ["title", "asc"], fields }, show);
  unsubscribes.push(() => subscription.unsubscribe());
}

/** The newest open todos first. */
const newest = (limit: number) => ({ where: { done: false }, orderBy: ["createdAt", "desc"], limit }) as const;

const app: TestApp = {
  client: undefined,
  views: {},
  newestFrom: undefined,
  async seedTodos(count) {
    const todos = Array.from({ length: count }, (_, n) => ({
      title: `seed-${String(n).padStart(5, "0")}`,
      done: n % 3 === 0,
    }));
    const { error } = await running().database.todos.createMany(todos, { returnDocuments: false });
    if (error !== undefined) throw new Error(`seedTodos: ${error.code}: ${error.message}`);
  },
  watchNewest(limit) {
    let isFirst = true;
    const subscription = running().database.todos.subscribe(
      { ...newest(limit), fields: { id: true, title: true } },
      (rows, error, loading) => {
        if (error !== undefined) console.error(`watchNewest: ${error.code}: ${error.message}`);
        if (loading || !isFirst || rows === undefined) return;
        isFirst = false;
        const mark = performance.getEntriesByName("trellis:early-answer").at(-1) as PerformanceMark | undefined;
        app.newestFrom = (mark?.detail as { from?: string } | undefined)?.from;
        app.views.newest = rows.map((row) => ({ id: row.id, title: row.title, done: false, createdBy: undefined }));
      },
    );
    unsubscribes.push(() => subscription.unsubscribe());
  },
  async newestTitles(limit) {
    const { data, error } = await running().database.todos.query({ ...newest(limit), fields: { title: true } });
    if (error !== undefined) throw new Error(`newestTitles: ${error.code}: ${error.message}`);
    return data.map((row) => row.title);
  },
  start({ serverUrl, appId, userId, storage, options }) {
    if (app.client !== undefined) throw new Error("window.app: already started; stop() first.");
    const clientOptions = {
      schema,
      appId,
      ...(serverUrl === undefined ? {} : { serverUrl }),
      ...(userId === undefined ? {} : { userId }),
      ...(storage === undefined ? {} : { storage }),
      ...options,
    } as ClientOptions<TestSchema>;
    app.client = createClient(clientOptions);
    return app.client.clientId;
  },
  watchTodos(name = "todos") {
    watch(name, false);
  },
  watchOpen() {
    watch("open", true);
  },
  async updateTodo(id, fields) {
    const { error } = await running().database.todos.update({ id, fields });
    if (error !== undefined) throw new Error(`updateTodo: ${error.code}: ${error.message}`);
  },
  async createTodo(title, done = false, sharedWith = []) {
    const client = running();
    const { data, error } = await client.database.todos.create({
      title,
      done,
      sharedWith,
      ...(client.userId === undefined ? {} : { ownerId: client.userId }),
    });
    if (error !== undefined) throw new Error(`createTodo: ${error.code}: ${error.message}`);
    return data.id;
  },
  writeUntilUnload(prefix) {
    const client = running();
    void (async () => {
      for (let index = 0; app.client === client; index++) {
        const { data, error } = await client.database.todos.create({ title: `${prefix}-${index}` });
        if (error !== undefined) return console.error(`writeUntilUnload: ${error.code}: ${error.message}`);
        console.log(`stored:${data.id}`);
      }
    })();
  },
  async doneTitles() {
    const { data, error } = await running().database.todos.query({
      where: { done: true },
      orderBy: ["title", "asc"],
      fields: { title: true },
    });
    if (error !== undefined) throw new Error(`doneTitles: ${error.code}: ${error.message}`);
    return data.map((row) => row.title);
  },
  async todoIds() {
    const client = running();
    await client.storage.ready;
    const { data, error } = await client.database.todos.query({ fields: { id: true } });
    if (error !== undefined) throw new Error(`todoIds: ${error.code}: ${error.message}`);
    return data.map((row) => row.id);
  },
  async storedTodoIds(appId) {
    const storage = createIndexedDbStorage({ name: `trellis-${appId}` });
    try {
      const opened = await storage.open();
      if (opened.error) throw new Error(`storedTodoIds: ${opened.error.message}`);
      const read = await storage.readCollection("todos");
      if (read.error) throw new Error(`storedTodoIds: ${read.error.message}`);
      return read.data.documents
        .filter((document) => !document.triples.some((triple) => triple.field === "$deleted"))
        .map((document) => document.id);
    } finally {
      await storage.close();
    }
  },
  status() {
    const { state, pending } = running().connection;
    return `${state}/${pending}`;
  },
  async stop() {
    for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
    const client = app.client;
    app.client = undefined;
    await client?.close();
  },
};

window.app = app;
