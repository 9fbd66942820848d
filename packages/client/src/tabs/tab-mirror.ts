import { effect } from "@preact/signals-core";
import type { Clock, DocumentRef, Triple, TripleStore } from "@trellis/core";
import { type RemoteApplier, storeApplier } from "../sync/remote-apply.js";
import type { LeaderElection } from "./leader-election.js";
import type { TabChannel } from "./tab-messages.js";

/** Another tab's commit, as the `stored` message carries it. */
interface StoredVersions {
  readonly versions: ReadonlyArray<readonly [collection: string, version: number]>;
}

/** How long an opening tab waits for the leader's snapshot before going on without it. */
const SNAPSHOT_WAIT_MS = 3_000;

/**
 * Keeps the in-memory stores of an app's tabs alike: every tab shares the triples it applies
 * (its writes; the leader also what the server sent), and applies what the others share — in
 * memory only, since the tab that shared them stores them. A write in one tab shows in every
 * tab's subscriptions at once, with or without a server.
 *
 * A tab that opens reads the database, but what another tab applied just before may not be
 * stored yet, and was shared before this tab listened. So it says hello, and the leader answers
 * with a snapshot of its store (until one arrives it says hello again to each new leader).
 * What other tabs share meanwhile waits until the stored data and the snapshot are in, then
 * applies in order, whole: a change to a document this tab does not hold yet is kept, not
 * dropped, because the rest of the document is on its way.
 *
 * @example
 * const mirror = new TabMirror({ channel, store, clock, election, ready: session.ready, announcesLeader: true });
 * mirror.share(triples); // a write of this tab shows in every tab
 */
export class TabMirror {
  private readonly stops: (() => void)[] = [];
  private readonly applier: RemoteApplier;
  /**
   * What other tabs shared while this one waits for its stored data and the snapshot, in order:
   * triples, or commits (which must not count before the triples they stored); undefined once
   * handled.
   */
  private waiting: (readonly Triple[] | StoredVersions | { readonly forgotten: readonly DocumentRef[] })[] | undefined =
    [];
  /** A snapshot arrived (or this tab leads and needs none). */
  private hasSnapshot = false;
  /** Shared triples may apply: the snapshot arrived, or waiting for it took too long. */
  private isSnapshotSettled = false;
  private isStoredDataIn = false;

  constructor(
    private readonly options: {
      readonly channel: TabChannel;
      readonly store: TripleStore;
      readonly clock: Clock;
      readonly election: LeaderElection;
      /** Settles once this tab's stored data is loaded. */
      readonly ready: Promise<unknown>;
      /** Whether this mirror says `leader` when its tab leads (with a server, TabSync says it). */
      readonly announcesLeader: boolean;
      /** Applies shared triples (default: straight to the store). */
      readonly apply?: RemoteApplier | undefined;
      /** Forgets documents another tab forgot (default: straight from the store). */
      readonly forget?: ((documents: readonly DocumentRef[]) => void) | undefined;
      /** Hears another tab's commit (see the `stored` message). */
      readonly stored?: ((versions: ReadonlyArray<readonly [collection: string, version: number]>) => void) | undefined;
      /** What a new tab gets from the leader (default: every triple of the store). */
      readonly snapshot?: (() => Triple[]) | undefined;
    },
  ) {
    this.applier = options.apply ?? storeApplier(options.store, options.clock);
    const { channel, store, election } = options;
    this.stops.push(
      channel.listen((message) => {
        switch (message.type) {
          case "stored":
            if (this.waiting !== undefined) this.waiting.push({ versions: message.versions });
            else options.stored?.(message.versions);
            return;
          case "applied":
            return this.apply(message.triples);
          case "forgotten":
            if (this.waiting !== undefined) this.waiting.push({ forgotten: message.documents });
            else this.forget(message.documents);
            return;
          case "hello":
            if (election.isLeader.peek())
              channel.post({
                type: "snapshot",
                to: message.from,
                triples: options.snapshot?.() ?? [...store.triples()],
              });
            return;
          case "snapshot":
            if (message.to !== channel.tabId || this.hasSnapshot) return;
            this.hasSnapshot = true;
            // Late (after the wait ran out) it applies like any shared triples.
            if (this.waiting !== undefined) this.waiting.unshift(message.triples);
            else this.apply(message.triples);
            return this.settle();
          case "leader":
            if (!this.hasSnapshot) channel.post({ type: "hello" });
        }
      }),
      effect(() => {
        if (!election.isLeader.value) return;
        // The leader holds what it needs: it was alone, or had its snapshot.
        this.hasSnapshot = true;
        this.settle();
        if (options.announcesLeader) channel.post({ type: "leader" });
      }),
    );
    const timer = setTimeout(() => this.settle(), SNAPSHOT_WAIT_MS);
    this.stops.push(() => clearTimeout(timer));
    void options.ready.then(() => {
      this.isStoredDataIn = true;
      this.flush();
    });
    channel.post({ type: "hello" });
  }

  share(triples: readonly Triple[]): void {
    if (triples.length > 0) this.options.channel.post({ type: "applied", triples });
  }

  /** Tells the other tabs to forget documents this one forgot (storage drops them here). */
  shareForgotten(documents: readonly DocumentRef[]): void {
    if (documents.length > 0) this.options.channel.post({ type: "forgotten", documents });
  }

  close(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  private settle(): void {
    this.isSnapshotSettled = true;
    this.flush();
  }

  private forget(documents: readonly DocumentRef[]): void {
    if (this.options.forget !== undefined) this.options.forget(documents);
    else this.options.store.forget(documents);
  }

  private apply(triples: readonly Triple[]): void {
    if (this.waiting !== undefined) this.waiting.push(triples);
    else this.applier(triples, true);
  }

  private flush(): void {
    if (this.waiting === undefined || !this.isSnapshotSettled || !this.isStoredDataIn) return;
    const waiting = this.waiting;
    this.waiting = undefined;
    this.options.store.transact(() => {
      for (const item of waiting) {
        if ("versions" in item) this.options.stored?.(item.versions);
        else if ("forgotten" in item) this.forget(item.forgotten);
        else this.applier(item, true);
      }
    });
  }
}
