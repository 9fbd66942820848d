import { computed, signal } from "@preact/signals-core";
import type { LeaderHeartbeat } from "./leader-heartbeat.js";
import type { LeaderElection } from "./election.js";
import type { PageEnvironment } from "./page-environment.js";

/**
 * The election where there are no Web Locks: a lease over the BroadcastChannel. A follower
 * that hears no heartbeat for `timeoutMs` claims (a new tab at once); a living leader answers a
 * claim with a heartbeat, and of simultaneous claims the lowest tab id wins after `claimMs`.
 * Two leaders that hear each other (one came back after it was replaced) settle on the one of
 * the later term. Like the lock election, a leader whose page is frozen or hidden resigns, and
 * claims again when it comes back.
 *
 * @example
 * import { effect } from "@preact/signals-core";
 * import { LeaderHeartbeat } from "./leader-heartbeat.js";
 * // Where `navigator.locks` is missing:
 * const heartbeat = new LeaderHeartbeat(`trellis-leader:${appId}`, tabId, page, {});
 * const election = leaseElection(heartbeat, page);
 * effect(() => {
 *   if (election.isLeader.value) engine.connect();
 * });
 */
export function leaseElection(heartbeat: LeaderHeartbeat, page: PageEnvironment): LeaderElection {
  const isLeader = signal(false);
  let claim: { readonly startedAt: number; isBeaten: boolean; readonly timer: () => void } | undefined;
  let isPaused = false;
  let isClosed = false;

  const dropClaim = () => {
    claim?.timer();
    claim = undefined;
  };
  /** `resign`: tell the followers (not when replaced: the new leader beats already). */
  const stepAside = (resign: boolean) => {
    dropClaim();
    if (isLeader.peek() && resign) heartbeat.resign();
    else heartbeat.follow();
    isLeader.value = false;
  };
  heartbeat.onSilence = () => {
    if (isPaused || isClosed || isLeader.peek() || claim !== undefined) return;
    const timer = page.every(() => {
      if (claim === undefined || Date.now() - claim.startedAt < heartbeat.timing.claimMs) return;
      const won = !claim.isBeaten;
      dropClaim();
      if (won) {
        heartbeat.lead();
        isLeader.value = true;
      } else {
        heartbeat.follow();
      }
    }, heartbeat.timing.claimMs / 3);
    claim = { startedAt: Date.now(), isBeaten: false, timer };
    heartbeat.claim();
  };
  heartbeat.onClaim = (message) => {
    // Answered only by a leader whose own timers run: a frozen or busy page may still handle
    // messages, and must not keep a claim off while it cannot lead.
    if (isLeader.peek()) {
      if (heartbeat.isBeating()) heartbeat.beat();
    } else if (claim !== undefined && message.tabId < heartbeat.tabId) claim.isBeaten = true;
  };
  heartbeat.onHeartbeat = (message) => {
    if (claim !== undefined) claim.isBeaten = true;
    if (isLeader.peek() && heartbeat.outranks(message)) stepAside(false);
  };
  heartbeat.onLaterLeader = () => stepAside(false);
  // The leader closed or was frozen: claim at once rather than wait out its silence.
  heartbeat.onResign = () => {
    if (isPaused || isClosed) return;
    // A claim the leader beat (before it resigned) is void: claim afresh.
    dropClaim();
    heartbeat.expectSilence();
  };
  const stopListening = page.listen((event) => {
    if (event === "freeze" || event === "hide") {
      isPaused = true;
      stepAside(true);
    } else if ((event === "resume" || event === "show") && isPaused) {
      isPaused = false;
      heartbeat.expectSilence();
    }
  });
  heartbeat.expectSilence();

  return {
    isLeader,
    hasLeader: computed(() => isLeader.value || heartbeat.isLeaderHeard.value),
    close() {
      if (isClosed) return;
      isClosed = true;
      stepAside(true);
      stopListening();
      heartbeat.close();
    },
  };
}
