import type { Clock, Triple, TripleStore } from "@trellis/core";
import { applyRemoteTriples } from "../sync/remote-apply.js";
import type { TabChannel } from "./tab-messages.js";

/**
 * Keeps the in-memory stores of an app's tabs alike: every tab shares the triples it applies
 * (its writes; the leader also what the server sent), and applies what the others share — in
 * memory only, since the tab that shared them stores them. A write in one tab shows in every
 * tab's subscriptions at once, with or without a server.
 *
 * @example
 * const mirror = new TabMirror(channel, store, clock);
 * mirror.share(triples);
 */
export class TabMirror {
  private readonly stop: () => void;

  constructor(
    private readonly channel: TabChannel,
    store: TripleStore,
    clock: Clock,
  ) {
    this.stop = channel.listen((message) => {
      if (message.type === "applied") applyRemoteTriples(store, clock, message.triples);
    });
  }

  share(triples: readonly Triple[]): void {
    if (triples.length > 0) this.channel.post({ type: "applied", triples });
  }

  close(): void {
    this.stop();
  }
}
