/**
 * A bare client of the sync protocol over `ws` (no Trellis client): for the phases that measure
 * the server itself (ingest, fan-out, ping) with nothing but a socket on the other side.
 */
import type { ClientMessage, ServerMessage } from "@trellis/core";
import WebSocket from "ws";

export interface ProtocolSocket {
  send(message: ClientMessage): void;
  /** Sends a frame serialized beforehand (so a timed loop does not include the sender's JSON work). */
  sendText(text: string): void;
  /**
   * Called with each frame's text before it is parsed (set to time arrivals). Returning `true`
   * marks the frame handled: it is neither parsed nor kept for `next`.
   */
  onFrame: ((text: string) => boolean | void) | undefined;
  /** Whether the connection is open (the server may close it). */
  readonly isOpen: boolean;
  /** The next message of `type` (earlier ones of other types are dropped); an `error` message rejects. */
  next<K extends ServerMessage["type"]>(type: K): Promise<Extract<ServerMessage, { type: K }>>;
  close(): Promise<void>;
  /** Drops the connection without the closing handshake (which a server not reading the socket never answers). */
  terminate(): Promise<void>;
}

/**
 * Opens `/v1/sync` and says hello (with `token`, or else claiming `clientId` as the user, as in
 * development mode); resolves after `welcome`.
 *
 * @example
 * const socket = await openProtocolSocket(server.url, "bench", "writer");
 * socket.send({ type: "push", batchId: "b1", triples });
 * await socket.next("ack");
 */
export async function openProtocolSocket(
  serverUrl: string,
  appId: string,
  clientId: string,
  token?: string,
): Promise<ProtocolSocket> {
  const ws = new WebSocket(`${serverUrl.replace(/^http/, "ws")}/v1/sync`, { perMessageDeflate: false });
  const queue: ServerMessage[] = [];
  let waiter: { type: string; resolve: (message: ServerMessage) => void; reject: (error: Error) => void } | undefined;
  const socket: ProtocolSocket = {
    onFrame: undefined,
    get isOpen() {
      return ws.readyState === WebSocket.OPEN;
    },
    send: (message) => ws.send(JSON.stringify(message)),
    sendText: (text) => ws.send(text),
    next: (type) =>
      new Promise((resolve, reject) => {
        while (queue.length > 0) {
          const message = queue.shift()!;
          if (message.type === "error") return reject(new Error(`${message.code}: ${message.message}`));
          if (message.type === type) return resolve(message as never);
        }
        waiter = { type, resolve: resolve as (message: ServerMessage) => void, reject };
      }),
    close: () =>
      new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once("close", () => resolve());
        ws.close();
      }),
    terminate: () =>
      new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once("close", () => resolve());
        ws.terminate();
      }),
  };
  // A close ends whatever waits: nothing more is coming.
  ws.on("close", () => {
    const current = waiter;
    waiter = undefined;
    current?.reject(new Error("the connection closed"));
  });
  ws.on("error", () => {});
  ws.on("message", (data) => {
    const text = data.toString();
    if (socket.onFrame?.(text) === true) return;
    const message = JSON.parse(text) as ServerMessage;
    if (waiter === undefined) {
      // Unawaited frames are kept only while someone may ask for them; `changes` are timed via onFrame.
      if (message.type !== "changes" && message.type !== "pong") queue.push(message);
      return;
    }
    const current = waiter;
    if (message.type === "error") {
      waiter = undefined;
      current.reject(new Error(`${message.code}: ${message.message}`));
    } else if (message.type === current.type) {
      waiter = undefined;
      current.resolve(message);
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  socket.send({
    type: "hello",
    protocol: 1,
    appId,
    clientId,
    ...(token === undefined ? { userId: clientId } : { token }),
  });
  await socket.next("welcome");
  return socket;
}
