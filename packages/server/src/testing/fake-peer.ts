import type { ServerMessage, Triple } from "@trellis/core";
import { expect } from "vitest";
import type { Peer } from "../peer.js";
import type { RoomMember } from "../rooms.js";

/** A connection as the hubs see it: every message it is sent, collected. For unit tests. */
export class FakePeer implements Peer {
  messages: ServerMessage[] = [];

  /** `member`: who it is in rooms (room hub tests). */
  constructor(readonly member: RoomMember = { userId: null, userKey: "anon:fake" }) {}

  send(message: ServerMessage, text?: string): void {
    // A shared serialization must be exactly this peer's message.
    if (text !== undefined) expect(JSON.parse(text)).toEqual(message);
    this.messages.push(message);
  }

  /** Why the hub dropped this peer, if it did. */
  dropped: string | undefined;

  drop(reason: string): void {
    this.dropped = reason;
  }

  /** Messages sent since the last take. */
  take(): ServerMessage[] {
    const taken = this.messages;
    this.messages = [];
    return taken;
  }

  /** Triples of the `changes` messages sent since the last take. */
  changes(): Triple[] {
    return this.take().flatMap((message) => (message.type === "changes" ? message.triples : []));
  }
}
