import type { ServerMessage } from "@trellis/core";

/** One connection as the app's hub and room hub see it: somewhere to send messages, and a way to end it. */
export interface Peer {
  /** `text`, when given, is `message` already serialized (shared by every peer that gets it). */
  send(message: ServerMessage, text?: string): void;
  /**
   * Ends the connection from the server side (its app failed, 1011 by default, or is restarting,
   * 1012); the client reconnects and resumes.
   */
  drop(reason: string, closeCode?: number): void;
}
