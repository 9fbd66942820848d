import { type Clock, DatabaseError, type DatabaseResult, normalizeQuery, ok, type Schema, type Triple, type TripleStore, type WriteListener } from "@trellis/core";
import { type PrunedSync, type PruneResult, pruneStorage } from "./persistence/prune.js";
import type { ClientOptions } from "./create-client.js";
import { generateId } from "./generate-id.js";
import type { ClientPersistence } from "./persistence/client-persistence.js";
import type { RoomTransport } from "./rooms/rooms.js";
import type { ClientConnection } from "./sync/client-connection.js";
import type { QuerySync } from "./sync/query-sync.js";
import { checkServerUrl } from "./sync/server-url.js";
import type { WriteError, WriteErrorListener } from "./sync/refused-writes.js";
import { applyRemoteTriples } from "./sync/remote-apply.js";
import { createDebugLog } from "./sync/debug-log.js";
import { SyncEngine } from "./sync/sync-engine.js";
import { electLeader } from "./tabs/leader-election.js";
import { openTabChannel, type TabChannel } from "./tabs/tab-messages.js";
import { TabMirror } from "./tabs/tab-mirror.js";
import { TabSync } from "./tabs/tab-sync.js";

/** A client's sync as the rest of the client uses it: the engine itself, or the tabs' shared sync. */
export interface ClientSync extends QuerySync, RoomTransport {
  readonly connection: ClientConnection;
  connect(): void;
  disconnect(): void;
  close(): Promise<void>;
  record(triples: readonly Triple[]): void;
}

/** What {@link assembleSync} builds. */
export interface AssembledSync {
  /** Undefined for a local-only client. */
  readonly sync: ClientSync | undefined;
  /** What the writer reports each write call to: storage, the outbox, the other tabs. */
  readonly onWrite: WriteListener | undefined;
  /** Starts syncing (a tab that shares sync waits for its election instead). */
  start(): void;
  /** `client.storage.prune()`: nothing to prune without storage or a server (no document is synced). */
  prune(): Promise<DatabaseResult<PruneResult>>;
  /** `client.onWriteError`: hears every refused change (in every tab of the app). */
  onWriteError(listener: WriteErrorListener): () => void;
  /** Hands the cursors storage restored to the engine. */
  restored(cursors: ReadonlyMap<string, string>): void;
  /** Closes sync, then (after storage) the tab channel. */
  close(): Promise<void>;
}

/**
 * Wires a client's sync: the engine for its server, storage of what it applies, and — when
 * tabs share the app's IndexedDB database — the tab channel that mirrors every tab's writes
 * and elects the tab that owns the connection (see docs/design/014-multi-tab.md).
 *
 * @example
 * const { sync, onWrite, start } = assembleSync(options, { store, clock, appId, clientId, persistence });
 */
export function assembleSync<S extends Schema>(
  options: ClientOptions<S>,
  parts: { store: TripleStore; clock: Clock; appId: string; clientId: string; persistence: ClientPersistence | undefined },
): AssembledSync {
  const { store, clock, appId, clientId, persistence } = parts;
  const channel: TabChannel | undefined = persistence?.storage.kind === "indexeddb" ? openTabChannel(appId, clientId) : undefined;
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
      announcesLeader: options.serverUrl === undefined,
      apply: persistence.workingSet.apply,
      forget: persistence.workingSet.forget,
      stored: (versions) => persistence.workingSet.storedElsewhere(versions),
      // A new tab gets what memory holds and what waits there for collections not loaded.
      snapshot: () => [...store.triples(), ...persistence.workingSet.keptTriples()],
    });
  const writeErrorListeners = new Set<WriteErrorListener>();
  const notifyWriteError = (change: WriteError) => {
    for (const listener of [...writeErrorListeners]) {
      try {
        listener(change);
      } catch (error) {
        console.error("Trellis: an onWriteError listener threw", error);
      }
    }
  };
  const stopHearingRefusals = channel?.listen((message) => {
    if (message.type !== "writeRefused") return;
    const { code, message: text, details } = message.error;
    for (const change of message.changes) notifyWriteError({ ...change, error: new DatabaseError(code as never, text, details) });
  });
  const engine =
    options.serverUrl === undefined
      ? undefined
      : createEngine(options, {
          store,
          clock,
          appId,
          clientId,
          ...persistence?.syncOptions(),
          documentsQuery: (collection, ids) => {
            const spec = Object.hasOwn(options.schema.collections, collection) ? options.schema.collections[collection] : undefined;
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
                persistence.workingSet.forget(documents);
                persistence.workingSet.apply(triples);
              }
            });
            persistence?.persister.documentsForgotten(documents);
            persistence?.persister.documentsChanged(triples);
            mirror?.shareForgotten(documents);
            // Other tabs apply what tabs share as whole: they get the documents as they are now.
            mirror?.share(documents.flatMap(({ collection, id }) => store.documentTriples(collection, id)));
          },
          onWriteError: (change) => {
            notifyWriteError(change);
            const { error, ...rest } = change;
            channel?.post({ type: "writeRefused", error: { code: error.code, message: error.message, details: error.details }, changes: [rest] });
          },
          onRemoteApplied: (triples) => {
            persistence?.persister.documentsChanged(triples);
            mirror?.share(triples);
          },
          onRemoteForgotten: (documents) => {
            persistence?.persister.documentsForgotten(documents);
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
    onWrite:
      sync || persistence
        ? (triples) => {
            persistence?.persister.documentsChanged(triples);
            sync?.record(triples);
            mirror?.share(triples);
          }
        : undefined,
    start() {
      if (tabSync === undefined) engine?.connect();
    },
    restored: (cursors) => engine?.restored(cursors),
    onWriteError(listener) {
      writeErrorListeners.add(listener);
      return () => writeErrorListeners.delete(listener);
    },
    async prune() {
      if (engine === undefined || persistence === undefined) return ok({ documents: 0, collections: [] });
      const opened = await persistence.ready;
      if (opened.error) return opened;
      return tabSync ? tabSync.prune() : pruneStorage(persistence.storage, inUse(engine, persistence));
    },
    async close() {
      await sync?.close();
      election?.close();
      mirror?.close();
      stopSharingCommits?.();
      stopHearingRefusals?.();
      writeErrorListeners.clear();
      await persistence?.close();
      channel?.close();
    },
  };
}

/** What pruning must keep: the collections this tab's engine syncs and those its queries hold. */
function inUse(engine: SyncEngine, persistence: ClientPersistence): PrunedSync {
  return {
    followedCollections: () => new Set([...engine.followedCollections(), ...persistence.workingSet.pinnedCollections()]),
    forgetCursors: (collections) => engine.forgetCursors(collections),
  };
}

function createEngine<S extends Schema>(
  options: ClientOptions<S>,
  parts: Omit<ConstructorParameters<typeof SyncEngine>[0], "serverUrl" | "userId" | "token" | "newId">,
): SyncEngine {
  const { auth } = options;
  if (auth !== undefined && !(typeof (auth as { token?: unknown }).token === "string" || typeof (auth as { getToken?: unknown }).getToken === "function")) {
    throw new TypeError("createClient: auth must be { token: string } or { getToken: () => string | Promise<string> }.");
  }
  return new SyncEngine({
    ...parts,
    serverUrl: checkServerUrl(options.serverUrl),
    userId: options.userId,
    token: auth === undefined ? () => undefined : "token" in auth ? () => auth.token : () => auth.getToken(),
    newId: generateId,
    webSocket: options.WebSocket,
    reconnect: options.reconnect,
    keepAlive: options.keepAlive,
    debug: createDebugLog(options.debug, parts.appId),
  });
}
