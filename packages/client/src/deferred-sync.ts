import { computed, signal } from "@preact/signals-core";
import {
  type ClientMessage,
  DatabaseError,
  type DatabaseResult,
  type NormalizedQuery,
  type Triple,
} from "@trellis/core";
import type { ClientSync } from "./client-sync-types.js";
import { type ClientConnection, createClientConnection } from "./sync/client-connection.js";
import type { TransportState } from "./sync/transport.js";
import type { SyncPayload } from "./sync/http.js";
import type { RemoteApplier } from "./sync/remote-apply.js";
import type { FollowedQuery } from "./sync/query-sync.js";
import type { RoomsService, RoomsSync } from "./rooms/rooms.js";
import type { WiredSync } from "./wire-sync.js";
import { Arriving, followOnArrival } from "./arriving.js";

/**
 * Stands in for a client's sync while its code loads (see `wireSync`), so the app starts without
 * it. Calls are kept and made in the same order once the code arrives; reads answer as a sync
 * not connected yet does: the connection is `initial` (`offline` after `disconnect()`) with the
 * writes made so far pending, and a followed query is loading unless it has a cursor. Remote
 * data (preloaded) is applied at once, and again, idempotently, by the engine once it arrives,
 * which also stores and shares it. Code that cannot be loaded leaves the client offline with a
 * NETWORK error as `connection.lastError`.
 *
 * @example
 * import { loadSyncCode } from "./client-sync.js";
 * import { storeApplier } from "./sync/remote-apply.js";
 * const notifyWriteError = (change: WriteError) => showToast(change.error.message);
 * const parts = { store, clock, appId, clientId, persistence: session, serverUrl, token: () => token, notifyWriteError };
 * const sync = new DeferredSync(
 *   loadSyncCode().then((wireSync) => wireSync(options, parts)), // the code, loaded after the first render
 *   storeApplier(store, clock),
 * );
 * sync.connection.state; // "initial" until the code arrives; calls made meanwhile wait for it
 */
export class DeferredSync implements ClientSync, RoomsSync {
  readonly hasServer = true;
  readonly connection: ClientConnection;
  /** Settles once the code arrived and the calls made until then were made on it; undefined if it failed to load. */
  readonly arrival: Promise<WiredSync | undefined>;
  /** The wired sync, once its code arrived. */
  private readonly code: Arriving<WiredSync>;
  private readonly arrived = signal<ClientSync | undefined>(undefined);
  private readonly failure = signal<DatabaseError | undefined>(undefined);
  private readonly wanted = signal<"initial" | "connecting" | "offline">("initial");
  private readonly recorded = signal(0);

  constructor(
    /** The sync, or its code on the way. */
    wiring: WiredSync | Promise<WiredSync>,
    /** Applies remote data to memory at once (what the engine applies it with). */
    private readonly applyNow: RemoteApplier,
  ) {
    const { arrived, failure, wanted, recorded } = this;
    this.connection = createClientConnection(
      computed(() => arrived.value?.connection.state ?? (failure.value ? "offline" : wanted.value)),
      computed(() => arrived.value?.connection.pending ?? recorded.value),
      computed(() => (arrived.value ? arrived.value.connection.lastError : failure.value)),
      computed(() => arrived.value?.connection.progress),
    );
    this.code = new Arriving(
      wiring,
      (error) => {
        const reason = error instanceof Error ? error.message : String(error);
        const message = `Trellis could not load its sync code (${reason}): the client stays offline, with reads and writes local to this tab. Reload the page to try again.`;
        console.error(message);
        failure.value = new DatabaseError("NETWORK", message, { reason: "load" });
      },
      (wired) => {
        arrived.value = wired.sync;
      },
    );
    this.arrival = this.code.arrival;
  }

  /** Makes a call on the sync now, or once its code arrived (never if it failed to load). */
  later(call: (wired: WiredSync) => void): void {
    this.code.later(call);
  }

  /** Whether calls wait for the code (it neither arrived nor failed). */
  private get isWaiting(): boolean {
    return this.code.value === undefined && this.failure.peek() === undefined;
  }

  /** A local write call, for the outbox and the other tabs. */
  share(triples: readonly Triple[]): void {
    if (this.isWaiting) this.recorded.value++;
    this.later((wired) => wired.share(triples));
  }

  record(triples: readonly Triple[]): void {
    if (this.isWaiting) this.recorded.value++;
    this.later((wired) => wired.sync?.record(triples));
  }

  follow(query: NormalizedQuery, cursor: string | null = null): FollowedQuery {
    const sync = this.arrived.peek();
    if (sync !== undefined) return sync.follow(query, cursor);
    const hasCursor = cursor !== null;
    const failure = this.failure;
    return followOnArrival(this.code, (wired) => wired.sync?.follow(query, cursor), {
      isLoading: computed(() => !hasCursor && failure.value === undefined),
      hasSynced: signal(hasCursor),
    });
  }

  async settle(query: NormalizedQuery): Promise<void> {
    await (await this.arrival)?.sync?.settle(query);
  }

  async load(query: NormalizedQuery): Promise<DatabaseResult<SyncPayload | null>> {
    const sync = (await this.arrival)?.sync;
    return sync ? sync.load(query) : { data: undefined, error: this.failure.peek()! };
  }

  applyRemote(triples: readonly Triple[]): void {
    const sync = this.arrived.peek();
    if (sync !== undefined) return sync.applyRemote(triples);
    // Preloaded data shows at once; the engine applies it again to keep and share it.
    this.applyNow(triples);
    this.later((wired) => wired.sync?.applyRemote(triples));
  }

  connect(): void {
    if (this.code.value === undefined) this.wanted.value = "connecting";
    this.later((wired) => wired.sync?.connect());
  }

  disconnect(): void {
    if (this.code.value === undefined) this.wanted.value = "offline";
    this.later((wired) => wired.sync?.disconnect());
  }

  /** Closes sync once its code arrived; what was still to be made on it is not. */
  async close(): Promise<void> {
    this.code.forget();
    await (await this.arrival)?.close();
  }

  get transportState(): TransportState {
    return this.arrived.peek()?.transportState ?? (this.failure.peek() ? "offline" : this.wanted.peek());
  }

  get userId(): string | null | undefined {
    return this.arrived.peek()?.userId;
  }

  sendRoom(message: ClientMessage): boolean {
    return this.arrived.peek()?.sendRoom(message) ?? false;
  }

  attachRooms(rooms: RoomsService): void {
    this.later((wired) => wired.attachRooms(rooms));
  }

  roomsChanged(count: number): void {
    this.later((wired) => wired.sync?.roomsChanged?.(count));
  }
}
