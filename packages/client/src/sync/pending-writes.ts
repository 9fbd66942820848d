import { batch, type ReadonlySignal, signal } from "@preact/signals-core";
import {
  type ClientMessage,
  type Clock,
  DatabaseError,
  type DocumentRef,
  type NormalizedQuery,
  ok,
  type Triple,
  type TripleStore,
} from "@trellis/core";
import type { DebugLog } from "./debug-log.js";
import { fetchQuery, type HttpContext, pushEntry } from "./http.js";
import { createMemoryOutbox, type Outbox, type OutboxEntry } from "./outbox.js";
import { OutboxPusher } from "./outbox-pusher.js";
import { refusedChanges, type WriteError, WriteRollback } from "./refused-writes.js";
import { applyRemoteTriples } from "./remote-apply.js";

export interface PendingWritesOptions {
  readonly store: TripleStore;
  readonly clock: Clock;
  readonly http: HttpContext;
  /** The outbox, restored from storage (default: one in memory). */
  readonly outbox?: Outbox | undefined;
  /** Batch ids of outbox entries. */
  readonly newId: () => string;
  /** Whether the socket is welcomed. */
  readonly isConnected: () => boolean;
  /** Sends on the socket; false when it is not connected. */
  readonly send: (message: ClientMessage) => boolean;
  /** Drops the socket and connects again: an HTTP push got no answer. */
  readonly restart: () => void;
  readonly report: (error: DatabaseError) => void;
  /** The query that fetches documents by id (for rolling back refused writes); undefined: none. */
  readonly documentsQuery?: ((collection: string, ids: readonly string[]) => NormalizedQuery | undefined) | undefined;
  /**
   * Replaces documents in memory when a refused write is rolled back: forgets them, then applies
   * `triples` (default: straight to the store). Storage and other tabs must follow.
   */
  readonly replaceDocuments?: ((documents: readonly DocumentRef[], triples: readonly Triple[]) => void) | undefined;
  /** Hears each refused change, once it is rolled back (or the rollback failed). */
  readonly onWriteError?: ((change: WriteError) => void) | undefined;
  readonly debug?: DebugLog | undefined;
}

/**
 * The local writes the server has not acknowledged: queued in the outbox, pushed (the writes of
 * one tick in one frame), dropped once acknowledged, and when refused rolled back to the
 * server's state before the write error listeners hear of them.
 *
 * @example
 * const writes = new PendingWrites({
 *   store,
 *   clock,
 *   http,
 *   newId: () => crypto.randomUUID(),
 *   isConnected: () => socket.readyState === WebSocket.OPEN,
 *   send: (message) => (socket.send(JSON.stringify(message)), true),
 *   restart: () => socket.close(),
 *   report: (error) => console.warn(error.message),
 * });
 * const { batchId } = writes.record(triples); // pushed with the other writes of this tick
 * writes.acknowledge(batchId); // as the server's `ack` does: it leaves the outbox
 */
export class PendingWrites {
  readonly outbox: Outbox;
  private readonly count = signal(0);
  /** How many writes wait for the server's acknowledgement. */
  readonly pending: ReadonlySignal<number> = this.count;
  private readonly pusher: OutboxPusher;
  private readonly rollback: WriteRollback;
  private isPushScheduled = false;
  /** False in a follower tab: the leader tab pushes every tab's writes (see tabs/tab-sync.ts). */
  private isPushing = true;

  constructor(private readonly options: PendingWritesOptions) {
    const outbox = (this.outbox = options.outbox ?? createMemoryOutbox());
    this.count.value = outbox.size;
    this.pusher = new OutboxPusher({
      outbox,
      // Offline, the outbox waits for the next `welcome`, which flushes it: flushing on each write
      // would go over every waiting entry (quadratic over a long offline spell), and push large
      // entries over HTTP while disconnected on purpose.
      isConnected: () => this.isPushing && options.isConnected(),
      send: options.send,
      pushOverHttp: (entry) => {
        options.debug?.("push over HTTP", { batchId: entry.batchId, triples: entry.triples.length });
        return pushEntry(options.http, entry);
      },
      onRemoved: () => this.counted(),
      onRefused: (error, entries) => this.refused(error, entries),
      onNetworkFailure: () => options.restart(),
    });
    this.rollback = new WriteRollback({
      fetch: async (collection, ids) => {
        const query = options.documentsQuery?.(collection, ids);
        if (query === undefined) return ok(undefined);
        const answer = await fetchQuery(options.http, query);
        return answer.error ? answer : ok(answer.data.triples);
      },
      replace: (documents, triples) => {
        const replace =
          options.replaceDocuments ??
          ((forgotten: readonly DocumentRef[], replacement: readonly Triple[]) =>
            options.store.transact(() => {
              options.store.forget(forgotten);
              applyRemoteTriples(options.store, options.clock, replacement);
            }));
        batch(() => replace(documents, triples));
      },
      pending: () => outbox.entries(),
    });
  }

  /** Queues the triples of one local write call for the server; returns its outbox entry. */
  record(triples: readonly Triple[]): OutboxEntry {
    this.rollback.observe(triples);
    const entry = { batchId: this.options.newId(), triples };
    this.outbox.add(entry);
    this.counted();
    this.schedulePush();
    return entry;
  }

  /** Writes of other tabs, already stored, for this (leader) tab to push; ones it has are skipped. */
  adopt(entries: readonly OutboxEntry[]): void {
    const held = new Set(this.outbox.entries().map((entry) => entry.batchId));
    const fresh = entries.filter((entry) => !held.has(entry.batchId));
    if (fresh.length === 0) return;
    for (const entry of fresh) this.rollback.observe(entry.triples);
    this.outbox.adopt(fresh);
    this.counted();
    this.schedulePush();
  }

  /** Drops entries another tab saw acknowledged. */
  drop(batchIds: readonly string[]): void {
    this.outbox.remove(batchIds);
    this.counted();
  }

  /** The outbox was restored from storage. */
  restored(): void {
    this.counted();
  }

  /** Starts or stops pushing the outbox (a follower tab leaves that to the leader). */
  setPushing(isPushing: boolean): void {
    this.isPushing = isPushing;
    if (isPushing) this.schedulePush();
  }

  /** Remote triples: what a refused write rolls back to, unless the server sends newer. */
  observe(triples: readonly Triple[]): void {
    this.rollback.observe(triples);
  }

  /** A connection was welcomed: everything unacknowledged goes (again). */
  connected(): void {
    this.pusher.reset();
    this.pusher.flush();
  }

  /** The connection was lost: what was sent on it counts as not sent. */
  disconnected(): void {
    this.pusher.reset();
  }

  acknowledge(batchId: string): void {
    this.pusher.acknowledge(batchId);
  }

  refuse(batchId: string, error: DatabaseError): void {
    this.pusher.refuse(batchId, error);
  }

  private counted(): void {
    this.count.value = this.outbox.size;
  }

  private schedulePush(): void {
    // Writes of one tick share a frame.
    if (this.isPushScheduled) return;
    this.isPushScheduled = true;
    queueMicrotask(() => {
      this.isPushScheduled = false;
      this.pusher.flush();
    });
  }

  /**
   * The server refused writes: the error shows in `lastError`, the documents go back to the
   * server's state (see WriteRollback), then each refused change reaches the write error listeners.
   */
  private refused(error: DatabaseError, entries: readonly OutboxEntry[]): void {
    this.options.report(error);
    if (entries.length === 0) return;
    // Listeners hear of it once the local data is back to the server's: what they read is current.
    void this.rollback.roll(entries).then((rolled) => {
      if (rolled.error)
        this.options.report(
          new DatabaseError(rolled.error.code, `A refused write could not be rolled back: ${rolled.error.message}`),
        );
      for (const change of refusedChanges(error, entries)) this.options.onWriteError?.(change);
    });
  }
}
