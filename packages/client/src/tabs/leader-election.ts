import { type ReadonlySignal, signal } from "@preact/signals-core";

/** Whether this tab leads, decided among the app's tabs. */
export interface LeaderElection {
  /** True while this tab is the leader. Once true it stays true until {@link close}. */
  readonly isLeader: ReadonlySignal<boolean>;
  /** Gives up leadership (or the wait for it): another tab takes over. */
  close(): void;
}

/** The subset of the Web Locks API used, so tests can pass their own. */
export interface LockManagerLike {
  request(name: string, options: { mode: "exclusive"; signal?: AbortSignal }, callback: () => Promise<void>): Promise<unknown>;
}

/** Timing of the BroadcastChannel fallback, in ms. */
export interface LeaseTiming {
  /** How often the leader says it is alive. Default 500. */
  readonly heartbeatMs?: number;
  /** Silence after which a follower claims leadership. Default 2 000. */
  readonly timeoutMs?: number;
  /** How long a claim waits for objections. Default 150. */
  readonly claimMs?: number;
}

/**
 * Elects one leader among the tabs of an app. With Web Locks (every current browser) the tab
 * holding the exclusive lock `trellis-leader:<appId>` leads; the browser releases it when the
 * tab closes, crashes or is discarded, and hands it to the next waiting tab at once. Without
 * Web Locks, a lease over the BroadcastChannel: the leader sends heartbeats, a follower that
 * hears none for `timeoutMs` claims, and the lowest tab id among simultaneous claims wins.
 *
 * @example
 * const election = electLeader({ appId, tabId });
 * effect(() => election.isLeader.value && startSyncing());
 */
export function electLeader(options: { appId: string; tabId: string; locks?: LockManagerLike | undefined; timing?: LeaseTiming }): LeaderElection {
  const locks = options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  if (locks !== undefined) return lockElection(locks, `trellis-leader:${options.appId}`);
  if (typeof BroadcastChannel !== "undefined") return leaseElection(`trellis-lease:${options.appId}`, options.tabId, options.timing ?? {});
  // Nothing to coordinate with: this tab is alone.
  return { isLeader: signal(true), close: () => {} };
}

function lockElection(locks: LockManagerLike, name: string): LeaderElection {
  const isLeader = signal(false);
  const abort = new AbortController();
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  locks
    .request(name, { mode: "exclusive", signal: abort.signal }, async () => {
      isLeader.value = true;
      await held;
    })
    .catch(() => {
      // Aborted while waiting: this tab closed before it led.
    });
  return {
    isLeader,
    close() {
      abort.abort();
      release();
    },
  };
}

type LeaseMessage = { readonly type: "heartbeat" | "claim" | "resign"; readonly tabId: string };

function leaseElection(name: string, tabId: string, timing: LeaseTiming): LeaderElection {
  const heartbeatMs = timing.heartbeatMs ?? 500;
  const timeoutMs = timing.timeoutMs ?? 2_000;
  const claimMs = timing.claimMs ?? 150;
  const isLeader = signal(false);
  const channel = new BroadcastChannel(name);
  let heardAt = 0;
  let claim: { readonly startedAt: number; isBeaten: boolean } | undefined;
  let isClosed = false;
  const post = (type: LeaseMessage["type"]) => channel.postMessage({ type, tabId } satisfies LeaseMessage);

  channel.onmessage = (event: MessageEvent) => {
    const message = event.data as LeaseMessage;
    if (message?.tabId === undefined || message.tabId === tabId) return;
    if (message.type === "heartbeat") {
      heardAt = Date.now();
      if (claim !== undefined) claim.isBeaten = true;
    } else if (message.type === "claim") {
      if (isLeader.peek()) post("heartbeat");
      else if (claim !== undefined && message.tabId < tabId) claim.isBeaten = true;
    } else if (message.type === "resign") {
      heardAt = 0;
      tick();
    }
  };

  let beatAt = 0;
  const tick = () => {
    if (isClosed) return;
    const now = Date.now();
    if (isLeader.peek()) {
      if (now - beatAt >= heartbeatMs) {
        beatAt = now;
        post("heartbeat");
      }
      return;
    }
    if (claim !== undefined) {
      if (claim.isBeaten) claim = undefined;
      else if (now - claim.startedAt >= claimMs) {
        claim = undefined;
        isLeader.value = true;
        post("heartbeat");
      }
      return;
    }
    if (now - heardAt >= timeoutMs) {
      claim = { startedAt: now, isBeaten: false };
      post("claim");
    }
  };
  const timer = setInterval(tick, Math.min(heartbeatMs, claimMs));
  // A new tab asks at once: a living leader answers a claim with a heartbeat.
  heardAt = Date.now() - timeoutMs;
  queueMicrotask(tick);

  return {
    isLeader,
    close() {
      if (isClosed) return;
      isClosed = true;
      clearInterval(timer);
      if (isLeader.peek()) post("resign");
      channel.close();
    },
  };
}
