import { computed, type ReadonlySignal, signal } from "@preact/signals-core";
import { LeaderHeartbeat, type LeaderTiming } from "./leader-heartbeat.js";
import { leaseElection } from "./lease-election.js";
import { type PageEnvironment, pageEnvironment } from "./page-environment.js";

import type { LeaderElection } from "./election.js";

export type { LeaderElection } from "./election.js";
export type { LeaderTiming } from "./leader-heartbeat.js";

/** What a lock request asks for: the subset of the Web Locks options used. */
export interface LockRequestOptions {
  readonly mode: "exclusive";
  readonly signal?: AbortSignal;
  /** Takes the lock from its holder, whose request then rejects with an `AbortError`. */
  readonly steal?: boolean;
}

/** The subset of the Web Locks API used, so tests can pass their own. */
export interface LockManagerLike {
  request(name: string, options: LockRequestOptions, callback: (lock: unknown) => Promise<void>): Promise<unknown>;
}

/** Options of {@link electLeader}. */
export interface ElectionOptions {
  readonly appId: string;
  readonly tabId: string;
  /** Default: `navigator.locks` where it exists, else the BroadcastChannel lease. */
  readonly locks?: LockManagerLike | undefined;
  readonly timing?: LeaderTiming | undefined;
  /** Default: the page this tab runs in (see `pageEnvironment`). */
  readonly page?: PageEnvironment | undefined;
}

/**
 * Elects one leader among the tabs of an app. With Web Locks (every current browser) the tab
 * holding the exclusive lock `trellis-leader:<appId>` leads; the browser releases it when the
 * tab closes, crashes or is discarded, and hands it to the next waiting tab at once. Without
 * Web Locks, a lease over the BroadcastChannel (see `leaseElection`).
 *
 * Either way the leader posts a heartbeat from its own timers (see `LeaderHeartbeat`), which a
 * frozen page or a busy main thread does not run: a follower that hears none for `timeoutMs`
 * takes leadership over — with Web Locks by stealing the lock — and the old leader steps down
 * once it runs again (its lock request rejects, or it hears a heartbeat of a later term). A
 * leader whose page is frozen or hidden hands leadership over at once, and asks again when the
 * page resumes or shows again.
 *
 * @example
 * import { effect } from "@preact/signals-core";
 * const election = electLeader({ appId, tabId });
 * effect(() => {
 *   if (election.isLeader.value) engine.connect();
 * });
 */
export function electLeader(options: ElectionOptions): LeaderElection {
  const locks = options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  const page = options.page ?? pageEnvironment(options.tabId);
  if (typeof BroadcastChannel === "undefined") {
    // Nothing to coordinate with: this tab is alone.
    return { isLeader: signal(true), hasLeader: signal(true), close: () => {} };
  }
  const heartbeat = new LeaderHeartbeat(`trellis-leader:${options.appId}`, options.tabId, page, options.timing ?? {});
  if (locks !== undefined) return new LockElection(locks, `trellis-leader:${options.appId}`, heartbeat, page);
  return leaseElection(heartbeat, page);
}

type Phase = "waiting" | "leading" | "paused" | "closed";

/** The Web Locks election (see {@link electLeader}). */
class LockElection implements LeaderElection {
  readonly isLeader = signal(false);
  readonly hasLeader: ReadonlySignal<boolean>;
  private phase: Phase = "waiting";
  /** Moves on with every request: a settling request of an earlier one is not this tab's news. */
  private generation = 0;
  private abortWaiting: (() => void) | undefined;
  private release: (() => void) | undefined;
  private readonly stops: (() => void)[] = [];

  constructor(
    private readonly locks: LockManagerLike,
    private readonly name: string,
    private readonly heartbeat: LeaderHeartbeat,
    page: PageEnvironment,
  ) {
    const isLeader = this.isLeader;
    this.hasLeader = computed(() => isLeader.value || heartbeat.isLeaderHeard.value);
    heartbeat.onSilence = () => this.phase === "waiting" && this.request(true);
    heartbeat.onLaterLeader = () => this.phase === "leading" && this.lost();
    this.stops.push(
      page.listen((event) => {
        if (event === "freeze" || event === "hide") this.pause();
        else if (event === "resume" || event === "show") this.unpause();
      }),
    );
    this.request(false);
  }

  close(): void {
    if (this.phase === "closed") return;
    this.stepAside("closed", true);
    for (const stop of this.stops.splice(0)) stop();
    this.heartbeat.close();
  }

  /** Waits for the lock, or (`steal`) takes it from a holder that stopped beating. */
  private request(steal: boolean): void {
    this.abortWaiting?.();
    this.abortWaiting = undefined;
    const generation = ++this.generation;
    this.phase = "waiting";
    this.heartbeat.follow();
    let options: LockRequestOptions = { mode: "exclusive", steal: true };
    if (!steal) {
      const abort = new AbortController();
      this.abortWaiting = () => abort.abort();
      options = { mode: "exclusive", signal: abort.signal };
    }
    this.locks
      .request(this.name, options, async () => {
        if (generation !== this.generation || this.phase !== "waiting") return;
        this.abortWaiting = undefined;
        this.phase = "leading";
        const held = new Promise<void>((resolve) => (this.release = resolve));
        this.heartbeat.lead();
        this.isLeader.value = true;
        await held;
      })
      // Settled with this generation still current: the lock was stolen (a rejection), since
      // every release of our own moves the generation on first. A rejection of an older one is
      // an aborted wait.
      .then(
        () => generation === this.generation && this.lost(),
        () => generation === this.generation && this.lost(),
      );
  }

  /** Another tab took leadership over: follow, and wait for the lock again. */
  private lost(): void {
    if (this.phase !== "leading") return;
    this.stepAside("waiting", false);
    this.request(false);
  }

  /** Frozen or hidden for the back/forward cache: hand leadership over, stop waiting for it. */
  private pause(): void {
    if (this.phase === "closed" || this.phase === "paused") return;
    this.stepAside("paused", true);
  }

  private unpause(): void {
    if (this.phase === "paused") this.request(false);
  }

  /** `resign`: tell the followers, so they need not wait out this tab's silence (not when replaced: the new leader beats already). */
  private stepAside(phase: Phase, resign: boolean): void {
    const wasLeading = this.phase === "leading";
    this.generation++;
    this.phase = phase;
    this.abortWaiting?.();
    this.abortWaiting = undefined;
    const release = this.release;
    this.release = undefined;
    if (wasLeading && resign) this.heartbeat.resign();
    else this.heartbeat.follow();
    this.isLeader.value = false;
    release?.();
  }
}
