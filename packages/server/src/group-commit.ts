import { type Clock, type DatabaseResult, decodeHlc, fail, ok, type Triple } from "@trellis/core";
import type { AppDatabase, ApplyBatchesResult, LargeWrite } from "./app-database.js";
import type { Checkpointer } from "./checkpointer.js";
import type { FaultHook } from "./faults.js";
import type { Log } from "./log.js";
import type { Peer } from "./peer.js";
import type { PeerState } from "./peer-state.js";

/** A push waiting to be stored, with whom to answer. */
interface PendingPush {
  readonly origin: PeerState | undefined;
  readonly triples: readonly Triple[];
  readonly done: (result: DatabaseResult<{ cursor: string }>) => void;
}

/** What the group commit is told by its hub (see `HubOptions`). */
export interface GroupCommitOptions {
  readonly log?: Log | undefined;
  readonly fault?: FaultHook | undefined;
  readonly sliceTriples?: number | undefined;
  readonly checkpointer?: Checkpointer | undefined;
  readonly onFailure?: (() => void) | undefined;
}

/** What the group commit asks of its hub. */
export interface GroupCommitHooks {
  /** Whether the connection is still attached (one that ended since it pushed follows nothing). */
  isAttached(state: PeerState): boolean;
  /** See `FanOut.unheldWrites`. */
  unheldWrites(origins: Map<Triple, PeerState | undefined>): Map<PeerState, Map<string, Triple>>;
  /** Applies stored triples to the replica and sends them on. */
  route(
    applied: readonly Triple[],
    origins: Map<Triple, PeerState | undefined>,
    cursor: string,
    unheld?: Map<PeerState, Map<string, Triple>>,
  ): void;
  /** The connections to drop when the app failed. */
  peers(): Peer[];
}

/**
 * The durable side of an app's pushes: pushes from every connection are merged in one SQLite
 * transaction per event-loop turn (group commit); larger ones are stored slice by slice over
 * several turns. Each is answered once stored, then handed to the hub to route.
 *
 * @example
 * const commits = new GroupCommit(appId, db, clock, { sliceTriples: 2_000 }, {
 *   isAttached: (state) => peers.get(state.peer) === state,
 *   unheldWrites: () => new Map(), // documents to resend whole to their pushers: see `FanOut.unheldWrites`
 *   route: (applied) => store.transact(() => applied.forEach((triple) => store.applyTriple(triple))),
 *   peers: () => [...peers.keys()],
 * });
 * // Pushes of the same turn share one transaction; each is answered once it is durable.
 * const { data: stored, error } = await commits.enqueue(undefined, triples);
 * if (error) return console.error(error.message);
 * console.log(`stored; changes up to cursor ${stored.cursor}`);
 */
export class GroupCommit {
  private queue: PendingPush[] = [];
  private flushScheduled = false;
  /** Large pushes, stored one after another (see `storeLarge`). */
  private large: Promise<void> | undefined;
  private isStoringLarge = false;
  /** The transaction of the large push being merged, rolled back if the app closes meanwhile. */
  private largeWrite: LargeWrite | undefined;
  /** Set by the hub once closed: nothing more is stored. */
  isClosed = false;

  constructor(
    private readonly appId: string,
    private readonly db: AppDatabase,
    private readonly clock: Clock,
    private readonly options: GroupCommitOptions,
    private readonly hooks: GroupCommitHooks,
  ) {}

  private get sliceTriples(): number {
    return this.options.sliceTriples ?? 2_000;
  }

  /** Queues a checked push of `origin` (if any); resolves once it is stored, or with why not. */
  enqueue(origin: PeerState | undefined, triples: readonly Triple[]): Promise<DatabaseResult<{ cursor: string }>> {
    return new Promise((done) => {
      if (triples.length > this.sliceTriples) {
        // One at a time, each over several turns; group commits wait for it (see `storeLarge`).
        this.large = (this.large ?? Promise.resolve()).then(() => this.storeLarge({ origin, triples, done }));
        return;
      }
      this.queue.push({ origin, triples, done });
      this.scheduleCommit();
    });
  }

  /** Rolls back a large push being merged (its client pushes it again), then commits what is queued. */
  drain(): void {
    this.largeWrite?.abandon();
    this.isStoringLarge = false;
    this.commit();
  }

  private scheduleCommit(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.commit());
  }

  /**
   * Stores and routes a push of more than `sliceTriples` triples over several event-loop turns,
   * a slice per turn, so other apps (and this app's readers) are served meanwhile: its clocks are
   * checked, then it is merged in a transaction of its own that readers do not see until it
   * commits (one push stays all or nothing), then applied to the replica and routed. This app's
   * group commits wait until it is done, so its writes stay in order with the replica.
   */
  private async storeLarge(push: PendingPush): Promise<void> {
    this.isStoringLarge = true;
    try {
      const stored = await this.mergeLarge(push.triples);
      if (stored.error) return push.done(stored);
      const origin = push.origin !== undefined && this.hooks.isAttached(push.origin) ? push.origin : undefined;
      const { applied } = stored.data;
      // Documents the pusher wrote without holding them are read once, before any slice reaches
      // the replica, over every pushed triple (the ones that lost to a delete above all), and
      // sent whole with the last slice.
      const unheld =
        origin === undefined
          ? new Map()
          : this.hooks.unheldWrites(new Map(push.triples.map((triple) => [triple, origin])));
      const slices = Math.max(1, Math.ceil(applied.length / this.sliceTriples));
      for (let index = 0; index < slices && !this.isClosed; index++) {
        const slice = applied.slice(index * this.sliceTriples, (index + 1) * this.sliceTriples);
        this.options.fault?.("route");
        this.hooks.route(
          slice,
          new Map(slice.map((triple) => [triple, origin])),
          stored.data.cursor,
          index === slices - 1 ? unheld : new Map(),
        );
        await nextTurn();
      }
      // Acknowledged once the replica holds all of it, so a query after the ack reads the push.
      push.done(ok({ cursor: stored.data.cursor }));
    } catch (error) {
      this.fail(error, [push]);
    } finally {
      this.isStoringLarge = false;
      if (this.queue.length > 0) this.scheduleCommit();
    }
  }

  /** The durable part of {@link storeLarge}: nothing of the push is stored unless all of it is. */
  private async mergeLarge(triples: readonly Triple[]): Promise<DatabaseResult<{ applied: Triple[]; cursor: string }>> {
    for (let from = 0; from < triples.length; from += this.sliceTriples) {
      const refused = this.checkClocks(triples.slice(from, from + this.sliceTriples));
      if (refused) return refused;
      await nextTurn();
    }
    this.options.fault?.("commit");
    const write = this.db.beginLargeWrite();
    if (write.error) return write;
    this.largeWrite = write.data;
    try {
      const applied: Triple[] = [];
      for (let from = 0; from < triples.length; from += this.sliceTriples) {
        if (this.isClosed)
          return fail(
            "STORAGE",
            `App "${this.appId}" closed while the batch was stored; nothing of it was. Push it again.`,
          );
        const merged = write.data.apply(triples.slice(from, from + this.sliceTriples));
        if (merged.error) return merged;
        for (const triple of merged.data) applied.push(triple);
        await write.data.flush();
      }
      const cursor = write.data.commit();
      if (cursor.error) return cursor;
      this.options.checkpointer?.written(this.db.file);
      return ok({ applied, cursor: cursor.data });
    } finally {
      write.data.abandon();
      this.largeWrite = undefined;
    }
  }

  /**
   * The group commit, behind this app's error boundary: a throw here is a bug that may have left
   * the replica or the routing state out of step with the database, so every push still waiting
   * is answered INTERNAL, every connection is dropped (clients reconnect and resume from their
   * cursors) and the hub asks to be opened again. Other apps never notice.
   */
  commit(): void {
    // Taken here as well as in `flush`: a throw there must still answer every push of this turn.
    const pushes = this.queue;
    try {
      this.flush();
    } catch (error) {
      this.fail(error, pushes);
    }
  }

  /** A bug hit this app: answers the pushes still waiting, drops every connection, asks to be reopened. */
  private fail(error: unknown, pushes: readonly PendingPush[]): void {
    this.options.log?.("error", "An app failed while committing; its connections are dropped and it is reopened", {
      appId: this.appId,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    const internal = fail("INTERNAL", "The server failed while storing this batch; see its log. Push it again.");
    for (const push of [...pushes, ...this.queue]) push.done(internal);
    this.queue = [];
    // After the answers (acks of batches already stored included) reach their connections.
    const peers = this.hooks.peers();
    setImmediate(() => {
      for (const peer of peers) peer.drop("internal error");
    });
    this.options.onFailure?.();
  }

  private flush(): void {
    this.flushScheduled = false;
    // Waits for a large push being stored; it schedules the commit again when done.
    if (this.isStoringLarge && !this.isClosed) return;
    const pushes = this.queue;
    this.queue = [];
    if (pushes.length === 0 || this.isClosed) return;
    this.options.fault?.("commit");
    const accepted: PendingPush[] = [];
    for (const push of pushes) {
      const refused = this.checkClocks(push.triples);
      if (refused) push.done(refused);
      else accepted.push(push);
    }
    if (accepted.length === 0) return;
    let outcomes: ApplyBatchesResult["outcomes"];
    let cursor: string;
    try {
      ({ outcomes, cursor } = this.db.applyBatches(accepted.map((push) => push.triples)));
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nothing of any batch was stored.
      for (const push of accepted) push.done(fail("STORAGE", `Could not store the batch: ${(error as Error).message}`));
      return;
    }
    this.options.checkpointer?.written(this.db.file);
    const origins = new Map<Triple, PeerState | undefined>();
    const applied: Triple[] = [];
    accepted.forEach((push, index) => {
      const outcome = outcomes[index]!;
      if (outcome.error) return push.done({ data: undefined, error: outcome.error });
      push.done(ok({ cursor }));
      // A connection that ended since it pushed follows nothing any more.
      const origin = push.origin !== undefined && this.hooks.isAttached(push.origin) ? push.origin : undefined;
      for (const triple of push.triples) origins.set(triple, origin);
      for (const triple of outcome.data) applied.push(triple);
    });
    this.options.fault?.("route");
    this.hooks.route(applied, origins, cursor);
  }

  /** Folds every HLC into the server clock; a reading far ahead refuses the whole batch. */
  private checkClocks(triples: readonly Triple[]): DatabaseResult<never> | undefined {
    for (const triple of triples) {
      const hlc = decodeHlc(triple.hlc);
      if (hlc.error) return hlc;
      const received = this.clock.receive(hlc.data);
      if (received.error) return received;
    }
    return undefined;
  }
}

/** Resolves in a later turn of the event loop, after pending I/O. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
