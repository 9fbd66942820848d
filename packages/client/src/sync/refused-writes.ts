import {
  CREATED_AT_FIELD,
  CREATED_BY_FIELD,
  type DatabaseError,
  type DatabaseResult,
  DELETED_FIELD,
  type DocumentRef,
  ok,
  type Triple,
} from "@trellis/core";
import type { OutboxEntry } from "./outbox.js";

/** One refused change, as `client.onWriteError` listeners hear it. */
export interface WriteError {
  /** The server's refusal (`UNAUTHORIZED` names the change at fault in `details`). */
  readonly error: DatabaseError;
  readonly collection: string;
  readonly id: string;
  readonly operation: "create" | "update" | "delete";
  /** The fields the refused write set (none for a delete; not the stamped `createdAt`, `createdBy`). */
  readonly fields: readonly string[];
}

/** Listens for refused writes; see `client.onWriteError`. */
export type WriteErrorListener = (change: WriteError) => void;

/**
 * The changes of refused outbox entries, one per document: a delete if it deleted it, a create
 * if it wrote its `createdAt`, else an update.
 *
 * @example
 * const error = new DatabaseError("UNAUTHORIZED", "Only the owner may edit this todo.");
 * for (const change of refusedChanges(error, outbox.entries())) showToast(`${change.collection}/${change.id}: ${change.error.message}`);
 */
export function refusedChanges(error: DatabaseError, entries: readonly OutboxEntry[]): WriteError[] {
  const byDocument = new Map<
    string,
    { collection: string; id: string; fields: Set<string>; deletes: boolean; creates: boolean }
  >();
  for (const { triples } of entries) {
    for (const { collection, id, field, element } of triples) {
      const key = documentKey(collection, id);
      let change = byDocument.get(key);
      if (change === undefined)
        byDocument.set(key, (change = { collection, id, fields: new Set(), deletes: false, creates: false }));
      if (field === DELETED_FIELD) change.deletes = true;
      else if (field === CREATED_AT_FIELD && element === undefined) change.creates = true;
      else if (field !== CREATED_BY_FIELD) change.fields.add(field);
    }
  }
  return [...byDocument.values()].map(({ collection, id, fields, deletes, creates }) => ({
    error,
    collection,
    id,
    operation: deletes ? "delete" : creates ? "create" : "update",
    fields: deletes ? [] : [...fields].sort(),
  }));
}

/** What a rollback needs of the rest of the client. */
export interface RollbackOptions {
  /**
   * The documents' triples as the server holds them now (those its user may read); undefined
   * for a collection it cannot ask about (its documents are left as they are).
   */
  readonly fetch: (
    collection: string,
    ids: readonly string[],
  ) => Promise<DatabaseResult<readonly Triple[] | undefined>>;
  /**
   * Replaces the documents in memory, in one transaction: forgets them, then applies `triples`
   * (whole documents and single changes alike). Storage and other tabs follow.
   */
  readonly replace: (documents: readonly DocumentRef[], triples: readonly Triple[]) => void;
  /** The writes not acknowledged yet, oldest first. */
  readonly pending: () => readonly OutboxEntry[];
}

/**
 * Rolls refused writes back: each document a refused write touched is put back as the server
 * holds it, with the local writes still pending (and any made meanwhile) applied on top, so
 * only the refused change is undone — fields return to the server's values, a refused create
 * disappears, a refused delete comes back — and subscriptions see the undo once.
 *
 * While the server is asked, every triple applied to those documents (remote changes, local
 * writes) is kept and applied again after: the answer and the socket's changes may arrive in
 * either order, and the merge rules make applying twice harmless.
 *
 * @example
 * const rollback = new WriteRollback({
 *   fetch: async () => ok(triples), // the documents as the server holds them, queried by id
 *   replace: (documents, triples) =>
 *     store.transact(() => {
 *       store.forget(documents);
 *       for (const triple of triples) store.applyTriple(triple);
 *     }),
 *   pending: () => outbox.entries(),
 * });
 * const refused = outbox.entries().slice(0, 1); // the server refused the oldest write
 * await rollback.roll(refused);
 */
export class WriteRollback {
  /** Per rollback running: the triples seen meanwhile for its documents, by document key. */
  private readonly running = new Set<Map<string, Triple[]>>();

  constructor(private readonly options: RollbackOptions) {}

  /** Notes triples applied anywhere (local writes, remote changes): kept if a rollback needs them. */
  observe(triples: readonly Triple[]): void {
    for (const seen of this.running)
      for (const triple of triples) seen.get(documentKey(triple.collection, triple.id))?.push(triple);
  }

  /** Puts the documents these refused entries wrote back to the server's state plus what is pending. */
  async roll(refused: readonly OutboxEntry[]): Promise<DatabaseResult<void>> {
    const documents = new Map<string, DocumentRef>();
    for (const { triples } of refused)
      for (const { collection, id } of triples) documents.set(documentKey(collection, id), { collection, id });
    if (documents.size === 0) return ok(undefined);
    const seen = new Map<string, Triple[]>([...documents.keys()].map((key) => [key, []]));
    this.running.add(seen);
    try {
      for (const entry of this.options.pending())
        for (const triple of entry.triples) seen.get(documentKey(triple.collection, triple.id))?.push(triple);
      const byCollection = new Map<string, string[]>();
      for (const { collection, id } of documents.values()) {
        const ids = byCollection.get(collection);
        if (ids === undefined) byCollection.set(collection, [id]);
        else ids.push(id);
      }
      const fetched: Triple[] = [];
      for (const [collection, ids] of byCollection) {
        for (let start = 0; start < ids.length; start += FETCH_IDS) {
          const chunk = ids.slice(start, start + FETCH_IDS);
          const answer = await this.options.fetch(collection, chunk);
          if (answer.error) return answer;
          if (answer.data === undefined) for (const id of chunk) documents.delete(documentKey(collection, id));
          else
            for (const triple of answer.data)
              if (documents.has(documentKey(triple.collection, triple.id))) fetched.push(triple);
        }
      }
      const kept = [...seen].flatMap(([key, triples]) => (documents.has(key) ? triples : []));
      if (documents.size > 0) this.options.replace([...documents.values()], [...fetched, ...kept]);
      return ok(undefined);
    } finally {
      this.running.delete(seen);
    }
  }
}

/** Ids asked for in one request. */
const FETCH_IDS = 200;

function documentKey(collection: string, id: string): string {
  return `${collection}\u0000${id}`;
}
