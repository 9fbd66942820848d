import type { DocumentRef, NormalizedQuery, Triple } from "@trellis/core";
import type { ConnectionState, SyncProgress } from "../sync/client-connection.js";
import type { OutboxEntry } from "../sync/outbox.js";

/**
 * What the tabs of one app tell each other over their BroadcastChannel. Every message names
 * the tab that sent it (`from`); a tab never hears its own messages.
 */
export type TabMessage =
  /** Triples a tab applied to its store: its own writes, or (the leader) what the server sent. */
  | { readonly type: "applied"; readonly from: string; readonly triples: readonly Triple[] }
  /** The leader: the server refused these changes (each tab's `onWriteError` listeners hear them). */
  | {
      readonly type: "writeRefused";
      readonly from: string;
      readonly error: {
        readonly code: string;
        readonly message: string;
        readonly details: Readonly<Record<string, unknown>> | undefined;
      };
      readonly changes: ReadonlyArray<{
        readonly collection: string;
        readonly id: string;
        readonly operation: "create" | "update" | "delete";
        readonly fields: readonly string[];
      }>;
    }
  /** Documents the leader forgot: the server revoked its user's access to them. */
  | { readonly type: "forgotten"; readonly from: string; readonly documents: readonly DocumentRef[] }
  /** A follower wants a query synced (again after a leader change), from its cursor if any. */
  | {
      readonly type: "follow";
      readonly from: string;
      readonly key: string;
      readonly query: NormalizedQuery;
      readonly cursor: string | null;
    }
  | { readonly type: "release"; readonly from: string; readonly key: string }
  /** A follower's write, already stored, for the leader to push. */
  | { readonly type: "push"; readonly from: string; readonly entries: readonly OutboxEntry[] }
  /** The leader: these writes are acknowledged (or refused) by the server. */
  | { readonly type: "acked"; readonly from: string; readonly batchIds: readonly string[] }
  /** The leader: the server answered this query (or the leader is offline). */
  | { readonly type: "answered"; readonly from: string; readonly key: string }
  /** The leader's connection, so followers show the same. */
  | {
      readonly type: "state";
      readonly from: string;
      readonly state: ConnectionState;
      readonly pending: number;
      readonly error: { readonly code: string; readonly message: string } | null;
      readonly progress: SyncProgress | null;
    }
  /** A tab became the leader: followers send it their follows and unacknowledged writes. */
  | { readonly type: "leader"; readonly from: string }
  /** A follower asks the leader to go offline on purpose (`false`) or to connect (`true`). */
  | { readonly type: "connect"; readonly from: string; readonly wanted: boolean }
  /** A tab is going away: the leader releases its follows. */
  | { readonly type: "bye"; readonly from: string }
  /** A tab opened: the leader answers with a snapshot of what it holds. */
  | { readonly type: "hello"; readonly from: string }
  /**
   * A tab's commit moved these collections on by one version each (to the version given): tabs
   * that knew the version before, and heard this tab's changes first, know the new one.
   */
  | {
      readonly type: "stored";
      readonly from: string;
      readonly versions: ReadonlyArray<readonly [collection: string, version: number]>;
    }
  /** A follower asks the leader to prune storage (`client.storage.prune()`). */
  | { readonly type: "prune"; readonly from: string; readonly id: string }
  /**
   * The leader pruned these collections: every tab forgets the cursors of queries reading them;
   * the tab that asked (`to`, `id`) gets the outcome.
   */
  | {
      readonly type: "pruned";
      readonly from: string;
      readonly to: string | null;
      readonly id: string | null;
      readonly collections: readonly string[];
      readonly documents: number;
      readonly error: { readonly code: string; readonly message: string } | null;
    }
  /** The leader's store, for one tab that said hello: what it may have missed while opening. */
  | { readonly type: "snapshot"; readonly from: string; readonly to: string; readonly triples: readonly Triple[] };

const TYPES = new Set([
  "applied",
  "forgotten",
  "writeRefused",
  "follow",
  "release",
  "push",
  "acked",
  "answered",
  "state",
  "leader",
  "connect",
  "bye",
  "hello",
  "snapshot",
  "prune",
  "pruned",
  "stored",
]);

/** A message from another tab of this app, or undefined for anything else on the channel. */
export function parseTabMessage(data: unknown): TabMessage | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const { type, from } = data as { type?: unknown; from?: unknown };
  return typeof type === "string" && TYPES.has(type) && typeof from === "string" ? (data as TabMessage) : undefined;
}

/** A message without its sender, as code inside a tab writes it. */
export type OutgoingTabMessage = TabMessage extends infer M ? (M extends TabMessage ? Omit<M, "from"> : never) : never;

/** One tab's end of the app's channel. */
export interface TabChannel {
  readonly tabId: string;
  post(message: OutgoingTabMessage): void;
  /** Hears other tabs' messages; returns an unsubscribe. */
  listen(listener: (message: TabMessage) => void): () => void;
  close(): void;
}

/**
 * The BroadcastChannel `trellis:<appId>` shared by the app's tabs (same origin), or undefined
 * where BroadcastChannel does not exist.
 *
 * @example
 * const channel = openTabChannel("my-app", tabId);
 * channel?.post({ type: "applied", triples });
 */
export function openTabChannel(appId: string, tabId: string): TabChannel | undefined {
  if (typeof BroadcastChannel === "undefined") return undefined;
  const channel = new BroadcastChannel(`trellis:${appId}`);
  const listeners = new Set<(message: TabMessage) => void>();
  let isClosed = false;
  channel.onmessage = (event: MessageEvent) => {
    const message = parseTabMessage(event.data);
    if (message === undefined || message.from === tabId) return;
    for (const listener of [...listeners]) listener(message);
  };
  return {
    tabId,
    post(message) {
      if (!isClosed) channel.postMessage({ ...message, from: tabId });
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      isClosed = true;
      listeners.clear();
      channel.close();
    },
  };
}
