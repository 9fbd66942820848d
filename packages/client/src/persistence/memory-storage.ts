import { type DatabaseResult, ok, type Triple } from "@trellis/core";
import type { OutboxEntry } from "../sync/outbox.js";
import type { OrderedRead } from "./ordered-scan.js";
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
  type StorageCommit,
  type StoredCollection,
  type StoredDocument,
  type StoredResult,
  type StoredState,
  type StorageIdentity,
  type SyncState,
  type SyncStateRead,
} from "./storage.js";

interface OutboxRecord {
  readonly entry: OutboxEntry;
  synced: boolean;
}

/**
 * Storage held in this process's memory: what a client in Node uses by default (data goes with
 * the process). One instance handed to successive clients acts like a browser's database across
 * page loads, which is how tests exercise restore without a browser.
 *
 * @example
 * const storage = createMemoryStorage();
 * const first = createClient({ schema, storage });
 * await first.close();
 * const second = createClient({ schema, storage }); // sees what the first one wrote
 */
export function createMemoryStorage(): ClientStorage {
  const documents = new Map<string, { collection: string; id: string; triples: Triple[] }>();
  const outbox = new Map<string, OutboxRecord>();
  const cursors = new Map<string, string>();
  const versions = new Map<string, number>();
  const results = new Map<string, StoredResult>();
  let clock: string | undefined;
  let clientId: string | undefined;
  let schema: string | undefined;
  /** The latest leader term claimed, and the one this storage object claimed (see `readSyncState`). */
  let leaderTerm = 0;
  let ownTerm: number | undefined;
  const versionOf = (collection: string) => versions.get(collection) ?? 0;

  return {
    kind: "memory",
    async open(identity?: StorageIdentity): Promise<DatabaseResult<StoredState>> {
      for (const [batchId, record] of outbox) if (record.synced) outbox.delete(batchId);
      if (identity !== undefined) {
        clientId ??= identity.clientId;
        if (schema !== identity.schema) results.clear();
        schema = identity.schema;
      }
      // Copies, as a real database would hand out: later commits must not change them.
      return ok(
        structuredClone({
          outbox: [...outbox.values()].map((record) => record.entry),
          clock,
          cursors: new Map(cursors),
          clientId,
        }),
      );
    },
    async listCollections(): Promise<DatabaseResult<string[]>> {
      return ok([...new Set([...documents.values()].map((document) => document.collection))].sort());
    },
    async readCollection(collection: string, page?: CollectionPage): Promise<DatabaseResult<StoredCollection>> {
      let found = [...documents.values()].filter((document) => document.collection === collection);
      if (page !== undefined) {
        // Ids in IndexedDB key order (UTF-16 code units), as the other backend pages them.
        found.sort((a, b) => (a.id < b.id ? -1 : 1));
        if (page.after !== undefined) found = found.filter((document) => document.id > page.after!);
        found = found.slice(0, page.limit);
      }
      return ok(structuredClone({ documents: found, version: versionOf(collection) }));
    },
    async readDocuments(collection: string, ids: readonly string[]): Promise<DatabaseResult<StoredDocument[]>> {
      const found = ids
        .map((id) => documents.get(`${collection}\u0000${id}`))
        .filter((document) => document !== undefined);
      return ok(structuredClone(found));
    },
    async readMatching(
      collection: string,
      field: string,
      values: readonly unknown[],
    ): Promise<DatabaseResult<StoredDocument[] | undefined>> {
      const wanted = new Set(values.map((value) => JSON.stringify(fieldTerm(collection, field, value))));
      const found = [...documents.values()].filter(
        (document) =>
          document.collection === collection && fieldTerms(document).some((term) => wanted.has(JSON.stringify(term))),
      );
      return ok(structuredClone(found));
    },
    async readOrdered(collection: string, read: OrderedRead): Promise<DatabaseResult<StoredDocument[] | undefined>> {
      // Loaded on use: memory storage is in every app's first load, ordered reads are not.
      const { scanDocuments } = await import("./ordered-scan.js");
      const found = scanDocuments(
        [...documents.values()].filter((document) => document.collection === collection),
        read,
      );
      return ok(found && structuredClone(found));
    },
    async readResult(key: string): Promise<DatabaseResult<StoredDocument[] | undefined>> {
      const result = results.get(key);
      if (result === undefined || currentResults([result], versionOf).length === 0) return ok(undefined);
      const found = result.documents.map(([collection, id]) => documents.get(`${collection}\u0000${id}`));
      return ok(
        found.every((document) => document !== undefined) ? structuredClone(found as StoredDocument[]) : undefined,
      );
    },
    async prune(
      collections: readonly string[],
      dropsCursor: (queryKey: string) => boolean,
    ): Promise<DatabaseResult<number>> {
      const kept = pendingDocuments(
        [...outbox.values()].filter((record) => !record.synced).map((record) => record.entry),
      );
      const pruned = new Set(collections);
      let deleted = 0;
      for (const [key, document] of documents) {
        if (!pruned.has(document.collection) || kept.has(key)) continue;
        documents.delete(key);
        deleted++;
      }
      for (const key of [...cursors.keys()]) if (dropsCursor(key)) cursors.delete(key);
      for (const collection of pruned) versions.set(collection, versionOf(collection) + 1);
      return ok(deleted);
    },
    async readSyncState(options?: SyncStateRead): Promise<DatabaseResult<SyncState>> {
      if (options?.lead === true) ownTerm = ++leaderTerm;
      const pending = [...outbox.values()].filter((record) => !record.synced).map((record) => record.entry);
      return ok(structuredClone({ outbox: pending, cursors: new Map(cursors) }));
    },
    async commit(commit: StorageCommit): Promise<DatabaseResult<CommitOutcome>> {
      const copy = structuredClone(commit);
      const store = (document: StoredDocument, isDelta: boolean) => {
        const key = `${document.collection}\u0000${document.id}`;
        const triples = mergeForStorage(documents.get(key)?.triples, document.triples, isDelta);
        if (triples !== undefined) documents.set(key, { collection: document.collection, id: document.id, triples });
      };
      for (const { collection, id } of copy.forgotten ?? []) documents.delete(`${collection}\u0000${id}`);
      for (const document of copy.documents) store(document, false);
      for (const document of copy.deltas ?? []) store(document, true);
      for (const entry of copy.added) outbox.set(entry.batchId, { entry, synced: false });
      for (const batchId of copy.acknowledged) {
        const record = outbox.get(batchId);
        if (record !== undefined) record.synced = true;
      }
      // A replaced leader's cursors do not count: the new leader's are the ones stored.
      if (ownTerm === undefined || ownTerm >= leaderTerm)
        for (const [key, cursor] of copy.cursors) cursors.set(key, cursor);
      const changed = new Map<string, number>();
      for (const collection of changedCollections(copy)) {
        versions.set(collection, versionOf(collection) + 1);
        changed.set(collection, versionOf(collection));
      }
      for (const result of currentResults(copy.results, versionOf)) results.set(result.key, result);
      if (clock === undefined || copy.clock > clock) clock = copy.clock;
      return ok({ versions: changed });
    },
    async close() {},
  };
}
