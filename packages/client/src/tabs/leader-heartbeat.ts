import { type ReadonlySignal, signal } from "@preact/signals-core";
import type { PageEnvironment } from "./page-environment.js";

/** How leadership is kept alive and taken over, in ms. */
export interface LeaderTiming {
  /** How often the leader says it is alive. Default 1 000. */
  readonly heartbeatMs?: number;
  /** Silence after which a follower no longer counts on the leader (`hasLeader`). Default twice `heartbeatMs`. */
  readonly suspectMs?: number;
  /** Silence after which a follower takes leadership over. Default 3 000. */
  readonly timeoutMs?: number;
  /**
   * The same when both the leader and this tab are hidden: browsers then run their timers as
   * rarely as once a minute, so a shorter wait would pass leadership around every minute. Default 90 000.
   */
  readonly hiddenTimeoutMs?: number;
  /** Lease fallback: how long a claim waits for objections. Default 150. */
  readonly claimMs?: number;
}

/** What tabs say on `trellis-leader:<appId>`. */
export interface HeartbeatMessage {
  readonly type: "heartbeat" | "claim" | "resign";
  readonly tabId: string;
  /** The sender's term as leader (a claim: the term it would lead in). */
  readonly term: number;
  readonly isHidden: boolean;
}

/**
 * The leader's heartbeat and the followers' watch over it, on the BroadcastChannel `name`. The
 * leader beats from its page's own timers (see `PageEnvironment.every`), never in answer to a
 * message: a frozen page may still run message handlers, but not timers. Each leader leads in a
 * term above every term its tab has heard (the wall clock, or one more), so a heartbeat of an
 * old leader that comes back is recognised and ignored, and the old leader, hearing the new
 * term, knows it was replaced.
 *
 * @example
 * const heartbeat = new LeaderHeartbeat(`trellis-leader:${appId}`, tabId, page, { timeoutMs: 3_000 });
 * heartbeat.onSilence = () => console.log("the leader went silent: take over");
 */
export class LeaderHeartbeat {
  /** A follower heard no leader for `timeoutMs` (once per silence). */
  onSilence: () => void = () => {};
  /** The leader heard a leader of a later term: it was replaced. */
  onLaterLeader: () => void = () => {};
  /** Another tab's claim (lease fallback). */
  onClaim: (message: HeartbeatMessage) => void = () => {};
  /** Another leader's heartbeat (lease fallback: it beats a claim). */
  onHeartbeat: (message: HeartbeatMessage) => void = () => {};
  /** The leader resigned (closed, or its page was frozen or hidden). */
  onResign: () => void = () => {};
  readonly timing: Required<LeaderTiming>;
  private readonly heard = signal(true);
  /** Whether a follower heard a leader within `suspectMs`. */
  readonly isLeaderHeard: ReadonlySignal<boolean> = this.heard;
  private readonly channel: BroadcastChannel;
  private isLeading = false;
  /** The highest term heard or led in. */
  private term = 0;
  private heardAt: number;
  private isLeaderHidden = false;
  private hasReportedSilence = false;
  private beatAt = 0;
  private readonly stopTicking: () => void;

  constructor(
    name: string,
    readonly tabId: string,
    private readonly page: PageEnvironment,
    timing: LeaderTiming,
  ) {
    const heartbeatMs = timing.heartbeatMs ?? 1_000;
    const timeoutMs = timing.timeoutMs ?? 3_000;
    this.timing = {
      heartbeatMs,
      timeoutMs,
      suspectMs: Math.min(timing.suspectMs ?? 2 * heartbeatMs, timeoutMs),
      hiddenTimeoutMs: Math.max(timing.hiddenTimeoutMs ?? 90_000, timeoutMs),
      claimMs: timing.claimMs ?? 150,
    };
    this.heardAt = Date.now();
    this.channel = new BroadcastChannel(name);
    this.channel.onmessage = (event: MessageEvent) => this.hear(event.data as HeartbeatMessage);
    this.stopTicking = page.every(() => this.tick(), Math.min(heartbeatMs / 4, this.timing.claimMs));
  }

  /** This tab leads from now on, in a new term: it beats at once, then every `heartbeatMs`. */
  lead(): void {
    this.isLeading = true;
    this.term = Math.max(this.term + 1, Date.now());
    this.heard.value = true;
    this.beat();
  }

  /** This tab follows from now on, and gives the leader a whole `timeoutMs` to be heard. */
  follow(): void {
    this.isLeading = false;
    this.heardAt = Math.max(this.heardAt, Date.now());
    this.hasReportedSilence = false;
  }

  /** The leader steps aside: followers need not wait out its silence. */
  resign(): void {
    if (this.isLeading) this.post("resign");
    this.follow();
  }

  /** Counts the leader as silent for long already (lease fallback: a new tab asks at once). */
  expectSilence(): void {
    this.heardAt = -Infinity;
    this.hasReportedSilence = false;
    queueMicrotask(() => this.tick());
  }

  /** Says the leader is alive now (also a lease leader's answer to a claim). */
  beat(): void {
    this.beatAt = Date.now();
    this.post("heartbeat");
  }

  /** Whether this leader's timers beat lately (a frozen or busy page's do not). */
  isBeating(): boolean {
    return this.isLeading && Date.now() - this.beatAt < this.timing.suspectMs;
  }

  claim(): void {
    this.post("claim", this.term + 1);
  }

  /** Whether `message` comes from a tab that should lead rather than this one (lease fallback). */
  outranks(message: HeartbeatMessage): boolean {
    return message.term > this.term || (message.term === this.term && message.tabId < this.tabId);
  }

  close(): void {
    this.stopTicking();
    this.channel.close();
  }

  private post(type: HeartbeatMessage["type"], term = this.term): void {
    this.channel.postMessage({
      type,
      tabId: this.tabId,
      term,
      isHidden: this.page.isHidden(),
    } satisfies HeartbeatMessage);
  }

  private hear(message: HeartbeatMessage): void {
    if (typeof message?.tabId !== "string" || message.tabId === this.tabId || typeof message.term !== "number") return;
    if (message.type === "claim") return this.onClaim(message);
    // An old leader that ran again after it was replaced: not the leader any more.
    if (message.term < this.term) return;
    if (message.type === "resign") {
      if (this.isLeading) return;
      // The lock (or the next claim) passes at once; until a new leader beats there is none.
      this.heardAt = Math.min(this.heardAt, Date.now() - this.timing.suspectMs);
      this.heard.value = false;
      this.onResign();
      return;
    }
    if (this.isLeading) {
      if (message.term > this.term) {
        this.term = message.term;
        this.onLaterLeader();
      } else {
        this.onHeartbeat(message);
      }
      return;
    }
    this.term = message.term;
    this.heardAt = Date.now();
    this.isLeaderHidden = message.isHidden;
    this.hasReportedSilence = false;
    this.heard.value = true;
    this.onHeartbeat(message);
  }

  private tick(): void {
    const now = Date.now();
    if (this.isLeading) {
      // With slack: a hidden page's timers run about once a second, and a beat skipped for a
      // few milliseconds would leave two seconds of silence.
      if (now - this.beatAt >= this.timing.heartbeatMs * 0.75) this.beat();
      return;
    }
    const silence = now - this.heardAt;
    this.heard.value = silence < this.timing.suspectMs;
    const limit = this.isLeaderHidden && this.page.isHidden() ? this.timing.hiddenTimeoutMs : this.timing.timeoutMs;
    if (silence < limit || this.hasReportedSilence) return;
    this.hasReportedSilence = true;
    this.onSilence();
  }
}
