import { type Clock, type DatabaseResult, ok, type Schema, type TripleStore, type WriteListener } from "@trellis/core";
import type { ClientAuth, ClientOptions } from "./client-types.js";
import type { SyncPersistence } from "./client-persistence.js";
import type { ClientSync } from "./client-sync-types.js";
import { DeferredSync } from "./deferred-sync.js";
import type { PruneResult } from "./persistence/prune.js";
import type { RoomsSync } from "./rooms/rooms.js";
import { checkServerUrl } from "./sync/server-url.js";
import type { WriteError, WriteErrorListener } from "./sync/refused-writes.js";
import type { StorageSession } from "./persistence/storage-session.js";
import type { wireSync } from "./wire-sync.js";
import { storeApplier } from "./sync/remote-apply.js";

/** What {@link assembleSync} builds. */
export interface AssembledSync {
  /** Undefined for a local-only client. */
  readonly sync: (ClientSync & RoomsSync) | undefined;
  /** What the writer reports each write call to: storage, the outbox, the other tabs. */
  readonly onWrite: WriteListener | undefined;
  /** Starts syncing (a tab that shares sync waits for its election instead). */
  start(): void;
  /** `client.storage.prune()`: nothing to prune without storage or a server (no document is synced). */
  prune(): Promise<DatabaseResult<PruneResult>>;
  /** `client.onWriteError`: hears every refused change (in every tab of the app). */
  onWriteError(listener: WriteErrorListener): () => void;
  /** Hands the cursors storage restored to the engine; settles once sync's code is there to take them. */
  restored(cursors: ReadonlyMap<string, string>): Promise<void>;
  /** Closes sync, then (after storage) the tab channel. */
  close(): Promise<void>;
}

/**
 * Wires a client's sync: the engine for its server, storage of what it applies, and — when
 * tabs share the app's IndexedDB database — the tab channel that mirrors every tab's writes
 * and elects the tab that owns the connection (see docs/design/014-multi-tab.md). That code
 * loads in parallel with storage (see `wireSync`); a {@link DeferredSync} stands in until then.
 * Bad options throw here, at once.
 *
 * @example
 * import { assemblePersistence } from "./client-persistence.js";
 * const persistence = assemblePersistence(options, { store, clock, registry, appId, clientId });
 * const { sync, start, restored } = assembleSync(options, { store, clock, appId, clientId, persistence: persistence.sync });
 * persistence.open((cursors) => restored(cursors));
 * start();
 */
export function assembleSync<S extends Schema>(
  options: ClientOptions<S>,
  parts: {
    store: TripleStore;
    clock: Clock;
    appId: string;
    clientId: string;
    /** Undefined with storage `"memory"`. */
    persistence: SyncPersistence | undefined;
  },
): AssembledSync {
  const { store, clock, persistence } = parts;
  const serverUrl = options.serverUrl === undefined ? undefined : checkServerUrl(options.serverUrl);
  const token = tokenOf(options.auth);
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
  const onWriteError = (listener: WriteErrorListener) => {
    writeErrorListeners.add(listener);
    return () => writeErrorListeners.delete(listener);
  };
  const pruned = ok<PruneResult>({ documents: 0, collections: [] });
  // Without a server or other tabs to share storage with, there is no sync code to load.
  if (serverUrl === undefined && persistence?.kind !== "indexeddb") {
    return {
      sync: undefined,
      onWrite: persistence && ((triples) => persistence.documentsChanged(triples)),
      start() {},
      restored: async () => {},
      onWriteError,
      prune: async () => pruned,
      async close() {
        writeErrorListeners.clear();
        await persistence?.close();
      },
    };
  }
  /** Whether sync's code got the session: it closes it then, with the tab channel. */
  let hasSession = false;
  const wire = (wireCode: typeof wireSync, session: StorageSession | undefined) => {
    hasSession = session !== undefined;
    return wireCode(options, { ...parts, persistence: session, serverUrl, token, notifyWriteError });
  };
  const session = persistence?.session;
  const deferred = new DeferredSync(
    wireSyncCode === undefined || session instanceof Promise
      ? Promise.all([wireSyncCode ?? loadSyncCode(), session]).then(([wireCode, loaded]) => wire(wireCode, loaded))
      : wire(wireSyncCode, session),
    persistence?.apply ?? storeApplier(store, clock),
  );
  return {
    sync: serverUrl === undefined ? undefined : deferred,
    onWrite(triples) {
      persistence?.documentsChanged(triples);
      deferred.share(triples);
    },
    start: () => deferred.later((wired) => wired.start()),
    async restored(cursors) {
      deferred.later((wired) => wired.restored(cursors));
      await deferred.arrival;
    },
    onWriteError,
    async prune() {
      if (serverUrl === undefined || persistence === undefined) return pruned;
      const opened = await persistence.ready;
      if (opened.error) return opened;
      const wired = await deferred.arrival;
      return wired ? wired.prune() : { data: undefined, error: deferred.connection.lastError! };
    },
    async close() {
      writeErrorListeners.clear();
      await deferred.close();
      // Sync's code closes the session with the tab channel; without either, storage is closed here.
      if ((await deferred.arrival) === undefined || !hasSession) await persistence?.close();
    },
  };
}

/** Sync's code once loaded: later clients (another in the same page, tests, servers rendering) wire at once. */
let wireSyncCode: typeof wireSync | undefined;

/**
 * Loads sync's code (the engine, tabs) unless it was already; `createClient` does when it
 * needs it, so calling this is only needed for a first client to wire its sync at once.
 *
 * @example
 * await loadSyncCode(); // then createClient({ serverUrl, … }) opens its socket before it returns
 */
export async function loadSyncCode(): Promise<typeof wireSync> {
  return (wireSyncCode ??= (await import("./wire-sync.js")).wireSync);
}

/** The token each connection and request sends, from `options.auth`. */
function tokenOf(auth: ClientAuth | undefined): () => string | undefined | Promise<string | undefined> {
  if (
    auth !== undefined &&
    !(
      typeof (auth as { token?: unknown }).token === "string" ||
      typeof (auth as { getToken?: unknown }).getToken === "function"
    )
  ) {
    throw new TypeError(
      "createClient: auth must be { token: string } or { getToken: () => string | Promise<string> }.",
    );
  }
  return auth === undefined ? () => undefined : "token" in auth ? () => auth.token : () => auth.getToken();
}
