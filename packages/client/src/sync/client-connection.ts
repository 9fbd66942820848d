import { computed, effect, type ReadonlySignal, signal, untracked } from "@preact/signals-core";
import type { DatabaseError } from "@trellis/core";

/**
 * Where a client's sync stands:
 * - `initial`: not connected yet;
 * - `offline`: not connected (no server, disconnected on purpose, or waiting to reconnect);
 * - `connecting`: opening the socket and saying hello;
 * - `syncing`: connected, with local writes not yet acknowledged or queries waiting for their first answer;
 * - `online`: connected, everything pushed and every followed query up to date.
 */
export type ConnectionState = "initial" | "offline" | "connecting" | "syncing" | "online";

/** A snapshot of a client's sync: replaced as a whole whenever a part changes. */
export interface ConnectionStatus {
  readonly state: ConnectionState;
  /** Local writes (one per write call or batch) the server has not acknowledged yet. */
  readonly pending: number;
  /**
   * The latest error sync ran into: the server refused the connection (`UNAUTHORIZED`,
   * `PROTOCOL`) or a write (`CLOCK_DRIFT`, `VALIDATION`, … — the write was dropped), or sent
   * something malformed. Cleared when a connection is welcomed.
   */
  readonly lastError: DatabaseError | undefined;
  /**
   * How far the first sync of large queries has come: documents received of their total, over
   * every followed query whose server answer is still arriving in parts. Undefined when none is
   * (a small answer comes in one message).
   */
  readonly progress: SyncProgress | undefined;
}

/** Documents of large first answers received so far, of how many in all. */
export interface SyncProgress {
  readonly documents: number;
  readonly total: number;
}

/**
 * `client.connection`: the sync state, readable and subscribable.
 *
 * @example
 * const stop = client.connection.subscribe(({ state, pending }) => badge.textContent = `${state} (${pending})`);
 * client.connection.state; // "online"
 */
export interface ClientConnection extends ConnectionStatus {
  /** The current status; the same object until something changes. */
  getCurrentState(): ConnectionStatus;
  /** Calls `callback` with the new status whenever the state, pending count or last error changes; returns an unsubscribe. */
  subscribe(callback: (status: ConnectionStatus) => void): () => void;
}

/**
 * A {@link ClientConnection} over signals of its parts.
 *
 * @example
 * import { signal } from "@preact/signals-core";
 * const state = signal<ConnectionState>("connecting");
 * const connection = createClientConnection(state, signal(0), signal(undefined));
 * connection.subscribe(({ state }) => console.log(state)); // "online" once the server welcomed us
 * state.value = "online";
 */
export function createClientConnection(
  state: ReadonlySignal<ConnectionState>,
  pending: ReadonlySignal<number>,
  lastError: ReadonlySignal<DatabaseError | undefined>,
  progress: ReadonlySignal<SyncProgress | undefined> = NO_PROGRESS,
): ClientConnection {
  const status = computed<ConnectionStatus>(() => ({
    state: state.value,
    pending: pending.value,
    lastError: lastError.value,
    progress: progress.value,
  }));
  return {
    get state() {
      return state.value;
    },
    get pending() {
      return pending.value;
    },
    get lastError() {
      return lastError.value;
    },
    get progress() {
      return progress.value;
    },
    getCurrentState: () => status.value,
    subscribe(callback) {
      if (typeof callback !== "function") throw new TypeError("connection.subscribe: pass a callback (status) => ….");
      let isFirstRun = true;
      return effect(() => {
        const current = status.value;
        if (isFirstRun) {
          isFirstRun = false;
          return;
        }
        untracked(() => {
          try {
            callback(current);
          } catch (error) {
            console.error("Trellis: a connection subscriber threw", error);
          }
        });
      });
    },
  };
}

const NO_PROGRESS: ReadonlySignal<SyncProgress | undefined> = signal(undefined);

/** The connection of a local-only client: offline, nothing pending, ever. */
export const LOCAL_CONNECTION: ClientConnection = createClientConnection(
  signal("offline"),
  signal(0),
  signal(undefined),
);
