import {
  type DatabaseError,
  type DatabaseResult,
  DEFAULT_MAX_FRAME_BYTES,
  jsonShape,
  MAX_CONTAINERS,
  type PushMessage,
} from "@trellis/core";
import type { Outbox, OutboxEntry } from "./outbox.js";

/** Room left in a frame for the `push` envelope around the triples. */
const FRAME_BUDGET_BYTES = DEFAULT_MAX_FRAME_BYTES - 4 * 1024;
/** Entries above this go over HTTP: a frame of their own would come close to the server's frame limit. */
const HTTP_ENTRY_BYTES = 512 * 1024;
/** Room left in a frame's count of arrays and objects for the `push` envelope (the server's limit is `MAX_CONTAINERS`). */
const FRAME_BUDGET_CONTAINERS = MAX_CONTAINERS - 16;

export interface OutboxPusherOptions {
  readonly outbox: Outbox;
  /** Whether a connection is welcomed: without one nothing goes, not even over HTTP. */
  readonly isConnected: () => boolean;
  /** Sends on the welcomed connection; false when there is none. */
  readonly send: (message: PushMessage) => boolean;
  readonly pushOverHttp: (entry: OutboxEntry) => Promise<DatabaseResult<void>>;
  /** Entries left the outbox. */
  readonly onRemoved: () => void;
  /**
   * The server refused entries (`entries`: dropped, so the queue cannot wedge; the client rolls
   * them back) or failed to store them (`entries` empty: they stay and go again).
   */
  readonly onRefused: (error: DatabaseError, entries: readonly OutboxEntry[]) => void;
  /** An HTTP push got no answer: the network is failing, so reconnect and send everything again. */
  readonly onNetworkFailure: () => void;
}

/**
 * Pushes the outbox, in order, on the current connection. Entries go several to a frame
 * (named by its last entry's batch id) up to the frame limits (bytes, and arrays and objects,
 * which the server counts before it parses); an entry too large for that goes
 * over HTTP, once every frame before it is acknowledged, and the entries after it wait for its
 * answer: the server stores entries in the order they were written. An `ack` (or a refusal) of
 * a frame removes every entry it carried. After a reconnect everything unacknowledged goes
 * again: the server's merge is idempotent.
 *
 * @example
 * const pusher = new OutboxPusher({
 *   outbox,
 *   isConnected: () => socket.readyState === WebSocket.OPEN,
 *   send: (message) => (socket.send(JSON.stringify(message)), true),
 *   pushOverHttp: async () => ok(undefined), // the engine pushes over HTTP with `pushEntry`
 *   onRemoved: () => console.log(`${outbox.size} writes pending`),
 *   onRefused: (error, entries) => console.warn(`${entries.length} writes refused: ${error.message}`),
 *   onNetworkFailure: () => socket.close(),
 * });
 * pusher.flush();
 */
export class OutboxPusher {
  /** Frame batch id → the entries it carried, on the current connection. */
  private readonly frames = new Map<string, readonly string[]>();
  /** Entries sent on the current connection, by batch id. */
  private readonly sent = new Set<string>();
  private generation = 0;
  /** An entry is being pushed over HTTP on this connection: later entries wait for its answer. */
  private isHttpPushing = false;
  /** An entry for HTTP waits for the frames before it to be acknowledged. */
  private isWaitingForAcks = false;
  /**
   * Entries of a refused frame of several: each goes alone from now on, so the server refuses
   * only the one at fault and stores the others (a frame is one batch to the server).
   */
  private readonly alone = new Set<string>();

  constructor(private readonly options: OutboxPusherOptions) {}

  /** A connection ended or began: nothing is in flight any more. */
  reset(): void {
    this.generation++;
    this.frames.clear();
    this.sent.clear();
    this.isHttpPushing = false;
    this.isWaitingForAcks = false;
  }

  /** Sends every entry not sent on this connection yet, oldest first. */
  flush(): void {
    if (this.isHttpPushing || !this.options.isConnected()) return;
    this.isWaitingForAcks = false;
    let frame: OutboxEntry[] = [];
    let bytes = 0;
    let containers = 0;
    const sendFrame = (): boolean => {
      if (frame.length === 0) return true;
      const batchId = frame[frame.length - 1]!.batchId;
      const triples = frame.length === 1 ? frame[0]!.triples : frame.flatMap((entry) => entry.triples);
      if (!this.options.send({ type: "push", batchId, triples })) return false;
      const ids = frame.map((entry) => entry.batchId);
      this.frames.set(batchId, ids);
      for (const id of ids) this.sent.add(id);
      frame = [];
      bytes = 0;
      containers = 0;
      return true;
    };
    for (const entry of [...this.options.outbox.entries()]) {
      if (this.sent.has(entry.batchId)) continue;
      const text = JSON.stringify(entry.triples);
      const size = utf8Length(text);
      const shape = jsonShape(text, Infinity, FRAME_BUDGET_CONTAINERS);
      if (size > HTTP_ENTRY_BYTES || shape.containers > FRAME_BUDGET_CONTAINERS) {
        // HTTP may overtake the socket: send it only once everything before it is stored.
        if (!sendFrame()) return;
        if (this.frames.size > 0) this.isWaitingForAcks = true;
        else this.pushOverHttp(entry);
        return;
      }
      const isFull = bytes + size > FRAME_BUDGET_BYTES || containers + shape.containers > FRAME_BUDGET_CONTAINERS;
      if ((this.alone.has(entry.batchId) || isFull) && !sendFrame()) return;
      frame.push(entry);
      bytes += size + 1;
      containers += shape.containers;
      if (this.alone.has(entry.batchId) && !sendFrame()) return;
    }
    sendFrame();
  }

  /** The server stored a frame. */
  acknowledge(batchId: string): void {
    this.remove(batchId);
  }

  /**
   * The server refused a frame: drop it, so the entries after it still go. A server that could
   * not store it (STORAGE, INTERNAL) did not judge it: the entries stay and go again after a
   * reconnect, so a full disk on the server costs time, not writes.
   */
  refuse(batchId: string, error: DatabaseError): void {
    if (isServerFailure(error)) {
      this.options.onRefused(error, []);
      this.options.onNetworkFailure();
      return;
    }
    const ids = this.frames.get(batchId) ?? [batchId];
    if (ids.length > 1) {
      // Nothing of the frame was stored: its entries go again, each alone.
      this.frames.delete(batchId);
      for (const id of ids) {
        this.sent.delete(id);
        this.alone.add(id);
      }
      this.flush();
      return;
    }
    const refused = this.options.outbox.entries().filter((entry) => ids.includes(entry.batchId));
    this.remove(batchId);
    this.options.onRefused(error, refused);
  }

  private remove(batchId: string): void {
    const ids = this.frames.get(batchId) ?? [batchId];
    this.frames.delete(batchId);
    // Gone from the outbox: should one come back (another tab hands it over again), it goes again.
    for (const id of ids) {
      this.sent.delete(id);
      this.alone.delete(id);
    }
    this.options.outbox.remove(ids);
    this.options.onRemoved();
    if (this.isWaitingForAcks && this.frames.size === 0) this.flush();
  }

  private pushOverHttp(entry: OutboxEntry): void {
    const generation = this.generation;
    this.sent.add(entry.batchId);
    this.isHttpPushing = true;
    void this.options.pushOverHttp(entry).then(({ error }) => {
      const isCurrent = generation === this.generation;
      if (error?.code === "NETWORK" || (error !== undefined && isServerFailure(error))) {
        if (error.code !== "NETWORK") this.options.onRefused(error, []);
        if (isCurrent) this.options.onNetworkFailure();
        return;
      }
      this.options.outbox.remove([entry.batchId]);
      this.options.onRemoved();
      if (error !== undefined) this.options.onRefused(error, [entry]);
      // The entries after it go now (after a reconnect, the new connection has sent them already).
      if (isCurrent) {
        this.isHttpPushing = false;
        this.flush();
      }
    });
  }
}

/** The server failed to store a batch rather than refusing it: worth sending again later. */
function isServerFailure(error: DatabaseError): boolean {
  return error.code === "STORAGE" || error.code === "INTERNAL";
}

/** UTF-8 length of a string: frame limits count bytes, not code units. */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // One byte each is counted already: up to 0x7ff takes two, a surrogate half two (a pair is four), the rest three.
    if (unit >= 0x80) bytes += unit < 0x800 || (unit >= 0xd800 && unit <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}
