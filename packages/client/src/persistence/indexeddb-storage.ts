import { type DatabaseResult, fail, ok, type Triple } from "@trellis/core";
import { type DBSchema, type IDBPDatabase, openDB } from "idb";
import type { OutboxEntry } from "../sync/outbox.js";
import { type OrderedRead, type OrderKey, orderKeys, OrderedScan } from "./ordered-scan.js";
import {
  changedCollections,
  type ClientStorage,
  type CollectionPage,
  type CommitOutcome,
  currentResults,
  fieldTerm,
  fieldTerms,
  mergeForStorage,
  pendingDocuments,
  RESULT_PREFIX,
  type StorageCommit,
  type StoredCollection,
  type StoredDocument,
  type StoredResult,
  type StoredState,
  type StorageIdentity,
  type SyncState,
  type SyncStateRead,
  VERSION_PREFIX,
} from "./storage.js";

/**
 * The layout version of the database; bump it with an `upgrade` step when the layout changes.
 * 2: documents carry `terms`, indexed (`byTerm`), for `readMatching`.
 * 3: documents carry `orders`, indexed (`byOrder`), for `readOrdered`.
 */
const LAYOUT_VERSION = 3;
const PENDING = 0;
const SYNCED = 1;
const CURSOR_PREFIX = "cursor:";
/** Meta key: the term of the latest tab that took sync over (see `readSyncState`). */
const LEADER_TERM_KEY = "leaderTerm";
const CLIENT_ID_KEY = "clientId";
const SCHEMA_KEY = "schema";
/** Meta keys: `"ready"` once every stored document carries its field (order) index keys (see `indexDocuments`). */
const TERMS_KEY = "terms";
const ORDERS_KEY = "orders";
const READY = "ready";
/** Documents given their index keys per transaction when a database of an earlier layout is indexed. */
const INDEX_PAGE = 500;

interface OutboxRow {
  readonly batchId: string;
  readonly seq: number;
  readonly synced: typeof PENDING | typeof SYNCED;
  readonly triples: readonly Triple[];
}

/** A document as the `documents` store holds it: with its field and order index keys. */
interface DocumentRecord extends StoredDocument {
  readonly terms: [string, string, string][];
  readonly orders: [string, string, OrderKey][];
}

interface TrellisDb extends DBSchema {
  documents: {
    key: [string, string];
    value: DocumentRecord;
    indexes: { byTerm: [string, string, string]; byOrder: [string, string, OrderKey] };
  };
  outbox: { key: string; value: OutboxRow; indexes: { bySynced: [number, number] } };
  meta: { key: string; value: string };
}

/** Options of {@link createIndexedDbStorage}. */
export interface IndexedDbStorageOptions {
  /** The database name; one per app (the client uses `trellis-<appId>`). */
  readonly name: string;
}

/**
 * Storage in the browser's IndexedDB (through `idb`): a `documents` store of each document's
 * triples with their HLCs, an `outbox` store (the operation log: one row per pending write,
 * indexed by synced state) and a `meta` store (clock, sync cursors). Commits are one
 * `readwrite` transaction with `durability: "strict"`, so a resolved commit survives a crash.
 * Tabs of one app share the database: documents are merged into what is stored (another tab
 * may have written them), never overwritten. See docs/design/013-browser-persistence.md.
 *
 * @example
 * const storage = createIndexedDbStorage({ name: "trellis-my-app" });
 */
export function createIndexedDbStorage(options: IndexedDbStorageOptions): ClientStorage {
  let database: IDBPDatabase<TrellisDb> | undefined;
  let closedBy: string | undefined;
  let nextSeq = 0;
  /** The leader term this storage object claimed, if its tab led (see `readSyncState`). */
  let ownTerm: number | undefined;

  const connect = async (): Promise<IDBPDatabase<TrellisDb>> => {
    if (database !== undefined) return database;
    if (closedBy !== undefined) throw new StorageClosed(closedBy);
    database = await openDB<TrellisDb>(options.name, LAYOUT_VERSION, {
      upgrade(db, oldVersion, _newVersion, transaction) {
        if (oldVersion < 1) {
          db.createObjectStore("documents", { keyPath: ["collection", "id"] });
          db.createObjectStore("outbox", { keyPath: "batchId" }).createIndex("bySynced", ["synced", "seq"]);
          db.createObjectStore("meta");
        }
        if (oldVersion < 2) {
          // On the documents themselves: a store of its own made every write and every read by
          // value slower (design 017). Documents stored by layout 1 get their keys in the
          // background after opening (`indexDocuments`): rewriting them here would hold the first
          // open for as long as storing them took.
          transaction.objectStore("documents").createIndex("byTerm", "terms", { multiEntry: true });
          if (oldVersion < 1) void transaction.objectStore("meta").put(READY, TERMS_KEY);
        }
        if (oldVersion < 3) {
          // As `byTerm`: documents stored before get their keys in the background.
          transaction.objectStore("documents").createIndex("byOrder", "orders", { multiEntry: true });
          if (oldVersion < 1) void transaction.objectStore("meta").put(READY, ORDERS_KEY);
        }
      },
      // Another tab opens a newer layout: step aside rather than block its upgrade.
      blocking() {
        closedBy = "Another tab upgraded this app's local database; reload the page to keep storing data.";
        database?.close();
        database = undefined;
      },
      terminated() {
        closedBy = "The browser closed this app's local database (storage cleared or disk error); reload the page.";
        database = undefined;
      },
    });
    return database;
  };

  /**
   * Gives the documents a database of an earlier layout stored their field and order index
   * keys, a page per transaction with a task's pause between, then marks both indexes ready.
   * Until then `readMatching` (layout 1) and `readOrdered` answer undefined. Interrupted
   * (closed, failed), the next open starts over.
   */
  const indexDocuments = async (): Promise<void> => {
    let after: [string, string] | undefined;
    try {
      for (;;) {
        const db = await connect();
        const tx = db.transaction(["documents", "meta"], "readwrite");
        const documents = tx.objectStore("documents");
        const page = await documents.getAll(
          after === undefined ? undefined : IDBKeyRange.lowerBound(after, true),
          INDEX_PAGE,
        );
        for (const found of page) void documents.put(record(found)).catch(() => {});
        const isLast = page.length < INDEX_PAGE;
        if (isLast)
          for (const key of [TERMS_KEY, ORDERS_KEY])
            void tx
              .objectStore("meta")
              .put(READY, key)
              .catch(() => {});
        await tx.done;
        if (isLast) return;
        after = [page.at(-1)!.collection, page.at(-1)!.id];
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    } catch {
      // Closed or failed: queries read whole collections until a later open finishes it.
    }
  };

  return {
    kind: "indexeddb",
    async open(identity?: StorageIdentity): Promise<DatabaseResult<StoredState>> {
      try {
        const db = await connect();
        const tx = db.transaction(["documents", "outbox", "meta"], "readwrite");
        const outbox = tx.objectStore("outbox");
        const meta = tx.objectStore("meta");
        const [rows, metaKeys, metaValues] = await Promise.all([outbox.getAll(), meta.getAllKeys(), meta.getAll()]);
        const pending: OutboxRow[] = [];
        for (const row of rows) {
          nextSeq = Math.max(nextSeq, row.seq + 1);
          if (row.synced === SYNCED) void outbox.delete(row.batchId).catch(() => {});
          else pending.push(row);
        }
        const stored = (key: string) => metaValues[metaKeys.indexOf(key)];
        let clientId = stored(CLIENT_ID_KEY);
        if (identity !== undefined) {
          if (clientId === undefined) void meta.put((clientId = identity.clientId), CLIENT_ID_KEY).catch(() => {});
          if (stored(SCHEMA_KEY) !== identity.schema) {
            for (const key of metaKeys) if (key.startsWith(RESULT_PREFIX)) void meta.delete(key).catch(() => {});
            void meta.put(identity.schema, SCHEMA_KEY).catch(() => {});
          }
        }
        await tx.done;
        if (stored(TERMS_KEY) !== READY || stored(ORDERS_KEY) !== READY) void indexDocuments();
        pending.sort((a, b) => a.seq - b.seq);
        return ok({
          outbox: pending.map(({ batchId, triples }): OutboxEntry => ({ batchId, triples })),
          clock: stored("clock"),
          cursors: readCursors(metaKeys, metaValues),
          clientId,
        });
      } catch (error) {
        return storageFailure(error, "open");
      }
    },
    async listCollections(): Promise<DatabaseResult<string[]>> {
      try {
        const db = await connect();
        const collections: string[] = [];
        // One step per collection: from each first key, jump past the rest of its collection.
        let cursor = await db.transaction("documents").store.openKeyCursor();
        while (cursor) {
          const collection = cursor.key[0];
          collections.push(collection);
          cursor = await cursor.continue([collection, []] as never);
        }
        return ok(collections);
      } catch (error) {
        return storageFailure(error, "read");
      }
    },
    async readCollection(collection: string, page?: CollectionPage): Promise<DatabaseResult<StoredCollection>> {
      try {
        const db = await connect();
        const tx = db.transaction(["documents", "meta"], "readonly");
        // Keys are [collection, id]; an array sorts after every string, so this spans the collection.
        const range =
          page?.after === undefined
            ? IDBKeyRange.bound([collection], [collection, []])
            : IDBKeyRange.bound([collection, page.after], [collection, []], true);
        const [documents, version] = await Promise.all([
          tx.objectStore("documents").getAll(range, page?.limit),
          tx.objectStore("meta").get(VERSION_PREFIX + collection),
        ]);
        await tx.done;
        return ok({ documents: documents.map(documentOf), version: Number(version ?? 0) });
      } catch (error) {
        return storageFailure(error, "read");
      }
    },
    async readDocuments(collection: string, ids: readonly string[]): Promise<DatabaseResult<StoredDocument[]>> {
      try {
        const db = await connect();
        const tx = db.transaction("documents", "readonly");
        const found = await Promise.all(ids.map((id) => tx.store.get([collection, id])));
        await tx.done;
        return ok(found.filter((document) => document !== undefined).map(documentOf));
      } catch (error) {
        return storageFailure(error, "read");
      }
    },
    async readMatching(
      collection: string,
      field: string,
      values: readonly unknown[],
    ): Promise<DatabaseResult<StoredDocument[] | undefined>> {
      try {
        const db = await connect();
        const tx = db.transaction(["documents", "meta"], "readonly");
        const index = tx.objectStore("documents").index("byTerm");
        const [ready, ...lists] = await Promise.all([
          tx.objectStore("meta").get(TERMS_KEY),
          ...values.map((value) => index.getAll(fieldTerm(collection, field, value))),
        ]);
        await tx.done;
        if (ready !== READY) return ok(undefined);
        // A set field can hold several of the values: each document once.
        const byId = new Map<string, StoredDocument>();
        for (const list of lists) for (const found of list) byId.set(found.id, documentOf(found));
        return ok([...byId.values()]);
      } catch (error) {
        return storageFailure(error, "read");
      }
    },
    async readOrdered(collection: string, read: OrderedRead): Promise<DatabaseResult<StoredDocument[] | undefined>> {
      try {
        const db = await connect();
        const tx = db.transaction(["documents", "meta"], "readonly");
        const { field } = read;
        // Arrays sort after every string: the upper bound spans the strings.
        const range =
          read.type === "number"
            ? IDBKeyRange.bound([collection, field, -Infinity], [collection, field, Infinity])
            : IDBKeyRange.bound([collection, field, ""], [collection, field, []], false, true);
        const [ready, first] = await Promise.all([
          tx.objectStore("meta").get(ORDERS_KEY),
          tx
            .objectStore("documents")
            .index("byOrder")
            .openCursor(range, read.direction === "desc" ? "prev" : "next"),
        ]);
        let cursor = first;
        const scan = new OrderedScan(read);
        while (ready === READY && cursor && scan.offer(cursor.key[2], documentOf(cursor.value)) === "more")
          cursor = await cursor.continue();
        await tx.done;
        return ok(ready === READY ? scan.result() : undefined);
      } catch (error) {
        return storageFailure(error, "read");
      }
    },
    async readResult(key: string): Promise<DatabaseResult<StoredDocument[] | undefined>> {
      try {
        const db = await connect();
        const tx = db.transaction(["documents", "meta"], "readonly");
        const meta = tx.objectStore("meta");
        const stored = await meta.get(RESULT_PREFIX + key);
        const result = stored === undefined ? undefined : (JSON.parse(stored) as StoredResult);
        let found: (StoredDocument | undefined)[] | undefined;
        if (result !== undefined) {
          const collections = Object.keys(result.versions);
          const versions = await Promise.all(collections.map((collection) => meta.get(VERSION_PREFIX + collection)));
          const isCurrent = collections.every(
            (collection, index) => Number(versions[index] ?? 0) === result.versions[collection],
          );
          if (isCurrent)
            found = await Promise.all(
              result.documents.map(([collection, id]) => tx.objectStore("documents").get([collection, id])),
            );
        }
        await tx.done;
        return ok(
          found?.every((document) => document !== undefined) ? (found as DocumentRecord[]).map(documentOf) : undefined,
        );
      } catch (error) {
        return storageFailure(error, "read");
      }
    },
    async prune(
      collections: readonly string[],
      dropsCursor: (queryKey: string) => boolean,
    ): Promise<DatabaseResult<number>> {
      try {
        const db = await connect();
        const tx = db.transaction(["documents", "outbox", "meta"], "readwrite", { durability: "strict" });
        // Only this transaction's own requests are awaited, so it stays active throughout.
        const pending = await tx
          .objectStore("outbox")
          .index("bySynced")
          .getAll(IDBKeyRange.bound([PENDING, -Infinity], [PENDING, Infinity]));
        const kept = pendingDocuments(pending);
        const documents = tx.objectStore("documents");
        let deleted = 0;
        for (const collection of collections) {
          for (const key of await documents.getAllKeys(IDBKeyRange.bound([collection], [collection, []]))) {
            if (kept.has(`${key[0]}\u0000${key[1]}`)) continue;
            void documents.delete(key).catch(() => {});
            deleted++;
          }
        }
        const meta = tx.objectStore("meta");
        for (const key of await meta.getAllKeys()) {
          if (key.startsWith(CURSOR_PREFIX) && dropsCursor(key.slice(CURSOR_PREFIX.length)))
            void meta.delete(key).catch(() => {});
        }
        // Stored results that named pruned documents are no longer current.
        for (const collection of collections) {
          const version = Number((await meta.get(VERSION_PREFIX + collection)) ?? 0) + 1;
          void meta.put(String(version), VERSION_PREFIX + collection).catch(() => {});
        }
        await tx.done;
        return ok(deleted);
      } catch (error) {
        return storageFailure(error, "prune");
      }
    },
    async readSyncState(options?: SyncStateRead): Promise<DatabaseResult<SyncState>> {
      try {
        const db = await connect();
        if (options?.lead === true) {
          // One transaction: two tabs claiming at once get different terms.
          const claim = db.transaction("meta", "readwrite");
          const term = Number((await claim.store.get(LEADER_TERM_KEY)) ?? 0) + 1;
          await claim.store.put(String(term), LEADER_TERM_KEY);
          await claim.done;
          ownTerm = term;
        }
        const tx = db.transaction(["outbox", "meta"], "readonly");
        const [rows, metaKeys, metaValues] = await Promise.all([
          tx
            .objectStore("outbox")
            .index("bySynced")
            .getAll(IDBKeyRange.bound([PENDING, -Infinity], [PENDING, Infinity])),
          tx.objectStore("meta").getAllKeys(),
          tx.objectStore("meta").getAll(),
        ]);
        await tx.done;
        return ok({
          outbox: rows.map(({ batchId, triples }): OutboxEntry => ({ batchId, triples })),
          cursors: readCursors(metaKeys, metaValues),
        });
      } catch (error) {
        return storageFailure(error, "open");
      }
    },
    async commit(commit: StorageCommit): Promise<DatabaseResult<CommitOutcome>> {
      try {
        const db = await connect();
        const tx = db.transaction(["documents", "outbox", "meta"], "readwrite", { durability: "strict" });
        const documents = tx.objectStore("documents");
        const outbox = tx.objectStore("outbox");
        const meta = tx.objectStore("meta");
        // Requests are issued without awaiting anything but their own results, so the
        // transaction stays active; `tx.done` settles once every one of them has, and reports
        // an abort (each request's own rejection is then expected and dropped).
        const issue = (request: Promise<unknown>) => void request.catch(() => {});
        const store = (document: StoredDocument, isDelta: boolean) =>
          issue(
            documents.get([document.collection, document.id]).then((stored) => {
              const triples = mergeForStorage(stored?.triples, document.triples, isDelta);
              return triples && documents.put(record({ collection: document.collection, id: document.id, triples }));
            }),
          );
        // Requests on one store run in the order issued: the drops come before any write.
        for (const { collection, id } of commit.forgotten ?? []) issue(documents.delete([collection, id]));
        for (const document of commit.documents) store(document, false);
        for (const document of commit.deltas ?? []) store(document, true);
        for (const entry of commit.added)
          issue(outbox.put({ batchId: entry.batchId, seq: nextSeq++, synced: PENDING, triples: entry.triples }));
        for (const batchId of commit.acknowledged) {
          issue(outbox.get(batchId).then((row) => row && outbox.put({ ...row, synced: SYNCED })));
        }
        if (commit.cursors.size > 0) {
          const term = ownTerm;
          const putCursors = () => {
            for (const [key, cursor] of commit.cursors) issue(meta.put(cursor, CURSOR_PREFIX + key));
          };
          // A tab replaced as leader (frozen or busy meanwhile) may commit late: its cursors would
          // overwrite the new leader's, so they are stored only while no later term is.
          if (term === undefined) putCursors();
          else issue(meta.get(LEADER_TERM_KEY).then((stored) => Number(stored ?? 0) <= term && putCursors()));
        }
        const changed = changedCollections(commit);
        const referenced = [
          ...new Set([...changed, ...(commit.results ?? []).flatMap((result) => Object.keys(result.versions))]),
        ];
        const versions = new Map<string, number>();
        issue(
          Promise.all(referenced.map((collection) => meta.get(VERSION_PREFIX + collection))).then((stored) => {
            const now = new Map(referenced.map((collection, index) => [collection, Number(stored[index] ?? 0)]));
            for (const collection of changed) {
              const version = now.get(collection)! + 1;
              now.set(collection, version);
              versions.set(collection, version);
              issue(meta.put(String(version), VERSION_PREFIX + collection));
            }
            for (const result of currentResults(commit.results, (collection) => now.get(collection) ?? 0)) {
              issue(meta.put(JSON.stringify(result), RESULT_PREFIX + result.key));
            }
          }),
        );
        issue(
          meta
            .get("clock")
            .then((stored) =>
              stored === undefined || commit.clock > stored ? meta.put(commit.clock, "clock") : undefined,
            ),
        );
        await tx.done;
        return ok({ versions });
      } catch (error) {
        return storageFailure(error, "commit");
      }
    },
    async close() {
      closedBy ??= "This client was closed.";
      database?.close();
      database = undefined;
    },
  };
}

class StorageClosed extends Error {}

/** A document as stored, with its field index keys. */
function record(document: StoredDocument): DocumentRecord {
  return {
    collection: document.collection,
    id: document.id,
    triples: document.triples,
    terms: fieldTerms(document),
    orders: orderKeys(document),
  };
}

/** A stored record as a document (without its index keys). */
function documentOf({ collection, id, triples }: StoredDocument): StoredDocument {
  return { collection, id, triples };
}

function readCursors(keys: readonly string[], values: readonly string[]): Map<string, string> {
  const cursors = new Map<string, string>();
  keys.forEach((key, index) => {
    if (key.startsWith(CURSOR_PREFIX)) cursors.set(key.slice(CURSOR_PREFIX.length), values[index]!);
  });
  return cursors;
}

/** An IndexedDB failure as a STORAGE result whose message says what to do. */
function storageFailure(error: unknown, during: "open" | "read" | "prune" | "commit"): DatabaseResult<never> {
  const name =
    error instanceof Error || (typeof DOMException !== "undefined" && error instanceof DOMException)
      ? (error as Error).name
      : "Error";
  const text = error instanceof Error ? error.message : String(error);
  if (name === "QuotaExceededError") {
    return fail(
      "STORAGE",
      "The browser refused to store more data for this app (storage quota exceeded). Delete data the app no longer needs, or ask the user to free disk space; the write stays in memory and is stored once there is room.",
      { reason: "quota", during },
    );
  }
  if (error instanceof StorageClosed) return fail("STORAGE", text, { reason: "closed", during });
  return fail("STORAGE", `IndexedDB failed during ${during}: ${name}: ${text}`, { reason: "indexeddb", during, name });
}
