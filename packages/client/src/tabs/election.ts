import type { ReadonlySignal } from "@preact/signals-core";

/** Whether this tab leads, decided among the app's tabs. */
export interface LeaderElection {
  /**
   * True while this tab is the leader. Leadership can end before {@link close}: another tab
   * takes it over when this one stops beating (frozen, or its main thread busy), and a leader
   * hands it over when its page is frozen or hidden, and asks again when it comes back.
   */
  readonly isLeader: ReadonlySignal<boolean>;
  /**
   * Whether a living leader is known: this tab leads, or the leader's heartbeat was heard lately.
   * False while a silent leader is being replaced or a new one is being elected.
   */
  readonly hasLeader: ReadonlySignal<boolean>;
  /** Gives up leadership (or the wait for it): another tab takes over. */
  close(): void;
}
