import {
  type Clock,
  DatabaseError,
  type DatabaseResult,
  normalizeQuery,
  ok,
  type Schema,
  type Triple,
  type TripleStore,
} from "@trellis/core";
import type { ClientSync } from "./client-sync-types.js";
import type { ClientOptions } from "./client-types.js";
import { generateId } from "./generate-id.js";
import type { StorageSession } from "./persistence/storage-session.js";
import { type PrunedSync, type PruneResult, pruneStorage } from "./persistence/prune.js";
import { attachRoomWire } from "./rooms/room-wire.js";
import type { RoomsService } from "./rooms/rooms.js";
import { createDebugLog } from "./sync/debug-log.js";
import type { WriteError } from "./sync/refused-writes.js";
import { applyRemoteTriples } from "./sync/remote-apply.js";
import { SyncEngine } from "./sync/sync-engine.js";
import { electLeader } from "./tabs/leader-election.js";
import { openTabChannel, type TabChannel } from "./tabs/tab-messages.js";
import { TabMirror } from "./tabs/tab-mirror.js";
import { TabSync } from "./tabs/tab-sync.js";

/** What {@link wireSync} needs: the client's parts, and its server settings already checked. */
export interface SyncParts {
  readonly store: TripleStore;
  readonly clock: Clock;
  readonly appId: string;
  readonly clientId: string;
  readonly persistence: StorageSession | undefined;
  /** The checked server URL; undefined for a local-only client. */
  readonly serverUrl: string | undefined;
  /** Gives the token for each connection and HTTP request. */
  readonly token: () => string | undefined | Promise<string | undefined>;
  /** Tells `client.onWriteError` listeners of this tab about a refused change. */
  readonly notifyWriteError: (change: WriteError) => void;
}

/** A client's sync once its code loaded (see `DeferredSync`, which stands in for it until then). */
export interface WiredSync {
  /** Undefined for a local-only client. */
  readonly sync: ClientSync | undefined;
  /** A local write call, for the outbox and the other tabs (storage heard of it already). */
  share(triples: readonly Triple[]): void;
  /** Starts syncing (a tab that shares sync waits for its election instead). */
  start(): void;
  /** Hands the cursors storage restored to the engine. */
  restored(cursors: ReadonlyMap<string, string>): void;
  /** Connects the client's rooms to the engine (nothing to connect without a server). */
  attachRooms(rooms: RoomsService): void;
  /** `client.storage.prune()` with storage and a server. */
  prune(): Promise<DatabaseResult<PruneResult>>;
  /** Closes sync, storage, then the tab channel. */
  close(): Promise<void>;
}

/**
 * Wires a client's sync: the engine for its server, storage of what it applies, and — when
 * tabs share the app's IndexedDB database — the tab channel that mirrors every tab's writes
 * and elects the tab that owns the connection (see docs/design/014-multi-tab.md). Loaded on
 * its own, after the app's first render (see docs/design/029-bundle-size.md).
 *
 * @example
 * const { sync, share, start } = wireSync(options, {
 *   store,
 *   clock,
 *   appId,
 *   clientId,
 *   persistence: session,
 *   serverUrl,
 *   token: () => token,
 *   notifyWriteError: (change) => showToast(`${change.collection}/${change.id}: ${change.error.message}`),
 * });
 * start();
 */
export function wireSync<S extends Schema>(options: ClientOptions<S>, parts: SyncParts): WiredSync {
  const { store, clock, appId, clientId, persistence, serverUrl, notifyWriteError } = parts;
  const channel: TabChannel | undefined =
    persistence?.storage.kind === "indexeddb" ? openTabChannel(appId, clientId) : undefined;
  const election = channel && electLeader({ appId, tabId: clientId });
  const mirror =
    channel &&
    election &&
    persistence &&
    new TabMirror({
      channel,
      store,
      clock,
      election,
      ready: persistence.ready,
      announcesLeader: serverUrl === undefined,
      apply: persistence.workingSet.arrivals.apply,
      forget: persistence.workingSet.arrivals.forget,
      stored: (versions) => persistence.workingSet.versions.storedElsewhere(versions),
      // A new tab gets what memory holds and what waits there for collections not loaded.
      snapshot: () => [...store.triples(), ...persistence.workingSet.arrivals.keptTriples()],
    });
  const stopHearingRefusals = channel?.listen((message) => {
    if (message.type !== "writeRefused") return;
    const { code, message: text, details } = message.error;
    for (const change of message.changes)
      notifyWriteError({ ...change, error: new DatabaseError(code as never, text, details) });
  });
  const engine =
    serverUrl === undefined
      ? undefined
      : new SyncEngine({
          store,
          clock,
          appId,
          clientId,
          serverUrl,
          userId: options.userId,
          token: parts.token,
          newId: generateId,
          webSocket: options.WebSocket,
          reconnect: options.reconnect,
          keepAlive: options.keepAlive,
          debug: createDebugLog(options.debug, appId),
          ...persistence?.syncOptions(),
          documentsQuery: (collection, ids) => {
            const spec = Object.hasOwn(options.schema.collections, collection)
              ? options.schema.collections[collection]
              : undefined;
            return spec && normalizeQuery(spec, { where: { id: { in: [...ids] } } }, options.schema.collections).data;
          },
          // A refused write rolled back: the documents as the server has them, in memory, storage
          // and every tab. Applied as remote data: a change of a document the server no longer
          // has (deleted meanwhile) makes no partial document; a pending create brings its own.
          replaceDocuments: (documents, triples) => {
            store.transact(() => {
              if (persistence === undefined) {
                store.forget(documents);
                applyRemoteTriples(store, clock, triples);
              } else {
                persistence.workingSet.arrivals.forget(documents);
                persistence.workingSet.arrivals.apply(triples);
              }
            });
            persistence?.writer.documentsForgotten(documents);
            persistence?.writer.documentsChanged(triples);
            mirror?.shareForgotten(documents);
            // Other tabs apply what tabs share as whole: they get the documents as they are now.
            mirror?.share(documents.flatMap(({ collection, id }) => store.documentTriples(collection, id)));
          },
          onWriteError: (change) => {
            notifyWriteError(change);
            const { error, ...rest } = change;
            channel?.post({
              type: "writeRefused",
              error: { code: error.code, message: error.message, details: error.details },
              changes: [rest],
            });
          },
          onRemoteApplied: (triples) => {
            persistence?.writer.documentsChanged(triples);
            mirror?.share(triples);
          },
          onRemoteForgotten: (documents) => {
            persistence?.writer.documentsForgotten(documents);
            mirror?.shareForgotten(documents);
          },
        });
  const stopSharingCommits =
    channel &&
    persistence?.onCommitted((versions) => {
      if (versions.size > 0) channel.post({ type: "stored", versions: [...versions] });
    });
  const tabSync =
    engine && channel && election && persistence
      ? new TabSync({
          engine,
          outbox: persistence.outbox,
          channel,
          election,
          storage: persistence.storage,
          durable: () => persistence.durable(),
          ready: persistence.ready,
          prune: () => pruneStorage(persistence.storage, inUse(engine, persistence)),
        })
      : undefined;
  const sync: ClientSync | undefined = tabSync ?? engine;
  return {
    sync,
    share(triples) {
      sync?.record(triples);
      mirror?.share(triples);
    },
    start() {
      if (tabSync === undefined) engine?.connect();
    },
    restored: (cursors) => engine?.restored(cursors),
    attachRooms(rooms) {
      const transport = tabSync ?? engine;
      if (transport) attachRoomWire(rooms, transport);
    },
    async prune() {
      if (engine === undefined || persistence === undefined) return ok({ documents: 0, collections: [] });
      return tabSync ? tabSync.prune() : pruneStorage(persistence.storage, inUse(engine, persistence));
    },
    async close() {
      await sync?.close();
      election?.close();
      mirror?.close();
      stopSharingCommits?.();
      stopHearingRefusals?.();
      await persistence?.close();
      channel?.close();
    },
  };
}

/** What pruning must keep: the collections this tab's engine syncs and those its queries hold. */
function inUse(engine: SyncEngine, persistence: StorageSession): PrunedSync {
  return {
    followedCollections: () => new Set([...engine.followedCollections(), ...persistence.workingSet.pins.pinned()]),
    forgetCursors: (collections) => engine.forgetCursors(collections),
  };
}
