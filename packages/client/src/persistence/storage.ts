import {
  CREATED_AT_FIELD,
  type DatabaseResult,
  DELETED_FIELD,
  type DocumentRef,
  mergeDocumentTriples,
  type Triple,
} from "@trellis/core";
import type { OutboxEntry } from "../sync/outbox.js";
import type { OrderedRead } from "./ordered-scan.js";

/** One document as stored: its current triples (a deleted one: only its tombstone). */
export interface StoredDocument {
  readonly collection: string;
  readonly id: string;
  readonly triples: readonly Triple[];
}

/**
 * What a client finds in its storage when it opens. Documents are not in it: a collection's
 * documents are read when a query or write first needs them ({@link ClientStorage.readCollection}).
 */
export interface StoredState {
  /** Writes the server has not acknowledged, oldest first. */
  readonly outbox: readonly OutboxEntry[];
  /** The latest clock reading stored (encoded HLC), so the clock never goes back. */
  readonly clock: string | undefined;
  /** Sync cursors by query key: queries synced before continue from them. */
  readonly cursors: ReadonlyMap<string, string>;
  /** The id of the client that first opened this storage (its identity for its whole life), if recorded. */
  readonly clientId?: string | undefined;
}

/** Who opens a storage: recorded in its metadata. */
export interface StorageIdentity {
  /** The opening client's id; the first one to open the storage stays recorded as the storage's. */
  readonly clientId: string;
  /**
   * The app schema (`schemaFingerprint`). Opening with a different one drops the stored query
   * results: they were computed with the old field specs. Documents are schema-agnostic triples.
   */
  readonly schema: string;
}

/**
 * A collection as stored: its documents, and its version — a counter every commit that changes
 * the collection (in any tab) moves on, so a result stored at one version is known to be
 * current as long as the version has not moved.
 */
export interface StoredCollection {
  readonly documents: readonly StoredDocument[];
  readonly version: number;
}

/**
 * A live query's visible result, stored so a later run can answer the same query from a few
 * documents before reading their collection: the documents' keys, and the versions of the
 * query's collections it is valid at.
 */
export interface StoredResult {
  /** The query key (its normalized JSON). */
  readonly key: string;
  readonly documents: ReadonlyArray<readonly [collection: string, id: string]>;
  /** The version of each collection the result reads, once this commit is in. */
  readonly versions: Readonly<Record<string, number>>;
}

/** A page of a collection read: documents whose id sorts after `after` (from the start without it). */
export interface CollectionPage {
  readonly after?: string | undefined;
  readonly limit: number;
}

/** What a commit did: each changed collection's new version. */
export interface CommitOutcome {
  readonly versions: ReadonlyMap<string, number>;
}

/** The sync part of what is stored. */
export type SyncState = Pick<StoredState, "outbox" | "cursors">;

/** Options of {@link ClientStorage.readSyncState}. */
export interface SyncStateRead {
  /**
   * The reader takes sync over as the leader tab, in a new term: from then on the storage
   * stores no cursors from a commit of an earlier term's leader (the same storage object in a
   * tab that lost leadership), which may run late, after the new leader's.
   */
  readonly lead?: boolean;
}

/** What one storage transaction writes: it lands whole or not at all. */
export interface StorageCommit {
  /**
   * Documents to drop from storage first, as if never stored (their user may no longer read
   * them); `documents` and `deltas` of the same commit are stored after.
   */
  readonly forgotten?: readonly DocumentRef[];
  /** Changed documents with their whole current state; the storage merges them into what it holds. */
  readonly documents: readonly StoredDocument[];
  /**
   * Triples of documents whose collection is not loaded in memory (remote data for it): merged
   * into the stored document. A document not stored yet is stored only if they carry its
   * `createdAt` or its tombstone, as a client holding the collection would drop a stray change
   * of a document it never had (see `applyRemoteTriples`).
   */
  readonly deltas?: readonly StoredDocument[];
  /** New outbox entries, in write order. */
  readonly added: readonly OutboxEntry[];
  /** Batch ids the server acknowledged: marked synced, compacted later. */
  readonly acknowledged: readonly string[];
  /** Cursors that moved, by query key. */
  readonly cursors: ReadonlyMap<string, string>;
  /**
   * Live query results to store. Each is stored only if every collection it reads is at the
   * version it names once this commit's changes are counted; otherwise it is left out (the
   * client's memory may not hold what another tab stored meanwhile).
   */
  readonly results?: readonly StoredResult[];
  /** The clock's latest reading (encoded HLC). */
  readonly clock: string;
}

/**
 * Where a client keeps its data between runs: documents (triples with their HLCs), the outbox
 * of pending writes, and metadata (clock, cursors). Every backend passes the shared suite in
 * `storage.test.ts`. Expected failures (quota, a blocked or upgraded database) come back as
 * STORAGE results, never as throws.
 *
 * @example
 * const storage = createMemoryStorage();
 * const { data: state } = await storage.open(); // the clock, outbox and cursors stored
 * const { data: todos } = await storage.readCollection("todos"); // { documents, version }
 * await storage.commit({
 *   documents: [{ collection: "todos", id: "t1", triples }],
 *   added: [],
 *   acknowledged: [],
 *   cursors: new Map(),
 *   clock: encodeHlc(clock.now()),
 * });
 */
export interface ClientStorage {
  /** `"memory"` or `"indexeddb"`. */
  readonly kind: string;
  /**
   * Opens the storage and reads its outbox and metadata; drops outbox entries already synced.
   * With an `identity`, records it in the metadata first (see {@link StorageIdentity}).
   */
  open(identity?: StorageIdentity): Promise<DatabaseResult<StoredState>>;
  /** The names of the collections with stored documents, sorted. */
  listCollections(): Promise<DatabaseResult<string[]>>;
  /**
   * The stored documents of one collection (a deleted one: its tombstone) in id order, and its
   * version: all of them, or with `page` at most `limit` from the first id after `after`.
   */
  readCollection(collection: string, page?: CollectionPage): Promise<DatabaseResult<StoredCollection>>;
  /** The stored documents of one collection with these ids (a deleted one: its tombstone); missing ids are left out. */
  readDocuments(collection: string, ids: readonly string[]): Promise<DatabaseResult<StoredDocument[]>>;
  /**
   * The stored documents of one collection whose `field` holds one of `values` (a set field: has
   * one of them as a member), through an index of field values (see {@link fieldTerms}). Only
   * values {@link isTermValue} accepts are indexed. Undefined while the index is still being
   * built (a database stored before it existed): read the collection instead.
   */
  readMatching(
    collection: string,
    field: string,
    values: readonly unknown[],
  ): Promise<DatabaseResult<StoredDocument[] | undefined>>;
  /**
   * The stored documents of one collection that an {@link OrderedRead} finds: read in the order
   * of one field's values through an index of them (see `orderKeys`), matched against the
   * read's filter, until `limit` match and then through the ties of the last one. Undefined
   * when the read gives up (see {@link OrderedRead.missing} and `maxExamined`) or the index is
   * still being built (a database stored before it existed): read the collection instead.
   */
  readOrdered(collection: string, read: OrderedRead): Promise<DatabaseResult<StoredDocument[] | undefined>>;
  /**
   * The documents of a stored result, if it is still current (every collection it reads is at
   * the version stored with it, and each document is there); else undefined.
   */
  readResult(key: string): Promise<DatabaseResult<StoredDocument[] | undefined>>;
  /**
   * Reads the writes not acknowledged yet and the cursors, as stored now: a tab taking over
   * sync from another tab continues from there (with `lead`, claiming the cursors for itself).
   */
  readSyncState(options?: SyncStateRead): Promise<DatabaseResult<SyncState>>;
  /**
   * In one transaction: deletes the stored documents of `collections` except those a pending
   * write touches, and the cursors whose query key `dropsCursor` accepts. Resolves with the
   * number of documents deleted.
   */
  prune(collections: readonly string[], dropsCursor: (queryKey: string) => boolean): Promise<DatabaseResult<number>>;
  /** Writes one commit atomically, durably where the backend can; the new collection versions. */
  commit(commit: StorageCommit): Promise<DatabaseResult<CommitOutcome>>;
  /** Releases the storage; the data stays. */
  close(): Promise<void>;
}

/**
 * What a commit stores for a document: its changed state merged into what is stored, or
 * undefined when nothing is to be stored (a delta of a document never stored, without its
 * `createdAt` or tombstone). Every backend stores documents through it.
 */
export function mergeForStorage(
  stored: readonly Triple[] | undefined,
  incoming: readonly Triple[],
  isDelta: boolean,
): Triple[] | undefined {
  if (stored !== undefined) return mergeDocumentTriples(stored, incoming);
  if (isDelta && !incoming.some(startsDocument)) return undefined;
  return [...incoming];
}

function startsDocument(triple: Triple): boolean {
  return triple.field === DELETED_FIELD || (triple.field === CREATED_AT_FIELD && triple.element === undefined);
}

/** Longest string value the field index holds: longer ones are rarely looked up by equality. */
const MAX_TERM_STRING = 256;

/** Whether the field index holds a value: strings up to 256 characters, finite numbers, booleans. */
export function isTermValue(value: unknown): boolean {
  return (
    (typeof value === "string" && value.length <= MAX_TERM_STRING) ||
    (typeof value === "number" && Number.isFinite(value)) ||
    typeof value === "boolean"
  );
}

/** Whether {@link ClientStorage.readMatching} finds every stored document holding one of these values in `field`. */
export function canReadMatching(field: string, values: readonly unknown[]): boolean {
  return field !== CREATED_AT_FIELD && values.every(isTermValue);
}

/** The index key of a field holding a value: `[collection, field, value as JSON]` (every part a string, as IndexedDB keys need). */
export function fieldTerm(collection: string, field: string, value: unknown): [string, string, string] {
  return [collection, field, JSON.stringify(value)];
}

/**
 * The field index keys of a stored document: one per plain field value and per present set
 * member that {@link isTermValue} accepts; none for a deleted document. `createdAt` is left out
 * (nearly unique, never looked up by equality).
 */
export function fieldTerms(document: {
  readonly collection: string;
  readonly triples: readonly Triple[];
}): [string, string, string][] {
  const terms: [string, string, string][] = [];
  for (const triple of document.triples) {
    if (triple.field === DELETED_FIELD) return [];
    if (triple.field === CREATED_AT_FIELD) continue;
    const value = triple.element === undefined ? triple.value : triple.value === true ? triple.element : undefined;
    if (isTermValue(value)) terms.push(fieldTerm(document.collection, triple.field, value));
  }
  return terms;
}

/** The keys (`collection \0 id`) of the documents pending writes touch: prune keeps them. */
export function pendingDocuments(entries: readonly OutboxEntry[]): Set<string> {
  const keys = new Set<string>();
  for (const entry of entries) for (const triple of entry.triples) keys.add(`${triple.collection}\u0000${triple.id}`);
  return keys;
}

/** Every collection a commit changes: their versions move on. */
export function changedCollections(commit: StorageCommit): Set<string> {
  const collections = new Set<string>();
  for (const document of commit.documents) collections.add(document.collection);
  for (const document of commit.deltas ?? []) collections.add(document.collection);
  for (const document of commit.forgotten ?? []) collections.add(document.collection);
  return collections;
}

/** The results of a commit that are current once its versions are in: what it stores. */
export function currentResults(
  results: readonly StoredResult[] | undefined,
  versionOf: (collection: string) => number,
): StoredResult[] {
  return (results ?? []).filter((result) =>
    Object.entries(result.versions).every(([collection, version]) => versionOf(collection) === version),
  );
}

export const VERSION_PREFIX = "version:";
export const RESULT_PREFIX = "result:";
