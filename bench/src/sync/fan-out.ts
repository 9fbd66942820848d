/**
 * Fan-out: one change reaching many subscribed sockets, timed from the writer's send to the
 * last socket's frame (and to the first and the middle one). The sockets are bare `ws` clients in
 * this process, so Trellis and the plain `ws` broadcast floors pay the same receiving cost.
 */
import WebSocket from "ws";
import { percentile } from "../stats.js";
import { openProtocolSocket, type ProtocolSocket } from "./protocol-socket.js";
import { createHlcSource, everyDocument, triple } from "./schema.js";

export interface FanOutResult {
  readonly sockets: number;
  readonly writes: number;
  /** Send → every socket has the change, ms. */
  readonly allP50Ms: number;
  readonly allP99Ms: number;
  /** Send → the first socket has it, ms. */
  readonly firstP50Ms: number;
  /** Send → half the sockets have it, ms (what the median subscriber waits). */
  readonly midP50Ms: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Untimed writes first: JIT and socket buffers warm up. */
const WARMUP_WRITES = 10;

/**
 * Times `writes` changes sent by `send(k)`, each waited for on all `receivers` (every receiver
 * calls the arrival callback handed to `attach` once per change), `gapMs` apart.
 */
export async function timeFanOut(
  receivers: number,
  attach: (onArrival: () => void) => void,
  send: (k: number) => void,
  afterEach: () => Promise<unknown>,
  writes: number,
  gapMs: number,
): Promise<FanOutResult> {
  let arrived = 0;
  let firstAt = 0;
  let midAt = 0;
  let lastAt = 0;
  const middle = Math.ceil(receivers / 2);
  let allArrived: (() => void) | undefined;
  attach(() => {
    const now = performance.now();
    if (arrived++ === 0) firstAt = now;
    if (arrived === middle) midAt = now;
    if (arrived === receivers) {
      lastAt = now;
      allArrived?.();
    }
  });
  const all: number[] = [];
  const first: number[] = [];
  const mid: number[] = [];
  for (let k = 0; k < WARMUP_WRITES + writes; k++) {
    arrived = 0;
    const everyone = new Promise<void>((resolve) => (allArrived = resolve));
    const start = performance.now();
    send(k);
    await everyone;
    await afterEach();
    if (k >= WARMUP_WRITES) {
      all.push(lastAt - start);
      first.push(firstAt - start);
      mid.push(midAt - start);
    }
    await sleep(gapMs);
  }
  return {
    sockets: receivers,
    writes,
    allP50Ms: percentile(all, 50),
    allP99Ms: percentile(all, 99),
    firstP50Ms: percentile(first, 50),
    midP50Ms: percentile(mid, 50),
  };
}

/**
 * Trellis: `sockets` bare protocol sockets subscribe to one query; a writer socket pushes one
 * triple per change (a document of that query), and the server routes it to all of them.
 */
export async function trellisFanOut(
  serverUrl: string,
  sockets: number,
  writes: number,
  gapMs: number,
  docs = 1,
): Promise<FanOutResult> {
  const appId = `bench-fanout-${docs}`;
  const hlc = createHlcSource("fanwriter");
  const writer = await openProtocolSocket(serverUrl, appId, "fanwriter");
  const seed = Array.from({ length: docs }, (_, i) => [
    triple("fans", `f${i}`, "n", -1, hlc()),
    triple("fans", `f${i}`, "createdAt", i, hlc()),
  ]);
  writer.send({ type: "push", batchId: "seed", triples: seed.flat() });
  await writer.next("ack");
  const receivers: ProtocolSocket[] = [];
  for (let i = 0; i < sockets; i++) {
    const socket = await openProtocolSocket(serverUrl, appId, `fan${i}`);
    socket.send({ type: "subscribe", queryId: "q", query: everyDocument("fans"), cursor: null });
    const snapshot = await socket.next("snapshot");
    if (snapshot.triples.length !== docs * 2)
      throw new Error(`fan-out: a subscriber's snapshot has ${snapshot.triples.length} triples, expected ${docs * 2}`);
    receivers.push(socket);
  }
  try {
    return await timeFanOut(
      sockets,
      (onArrival) => {
        // Taken as is, unparsed, as the floor's sockets take theirs: both time delivery alone.
        for (const socket of receivers) {
          socket.onFrame = () => {
            onArrival();
            return true;
          };
        }
      },
      (k) =>
        writer.sendText(
          JSON.stringify({ type: "push", batchId: `b${k}`, triples: [triple("fans", "f0", "n", k, hlc())] }),
        ),
      () => writer.next("ack"),
      writes,
      gapMs,
    );
  } finally {
    await Promise.all([writer, ...receivers].map((socket) => socket.close()));
  }
}

/**
 * The floor: a plain `ws` server in another process broadcasting each frame to every other socket,
 * after committing it to SQLite when `isDurable` (see echo-server.ts).
 */
export async function wsBroadcastFanOut(
  echoPort: number,
  sockets: number,
  writes: number,
  gapMs: number,
  isDurable = false,
): Promise<FanOutResult> {
  const open = async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${echoPort}`, { perMessageDeflate: false });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    return ws;
  };
  const writer = await open();
  const receivers: WebSocket[] = [];
  for (let i = 0; i < sockets; i++) receivers.push(await open());
  try {
    return await timeFanOut(
      sockets,
      (onArrival) => {
        for (const socket of receivers) socket.on("message", onArrival);
      },
      (k) =>
        writer.send(
          `${isDurable ? "d" : "b"}${JSON.stringify({ type: "changes", triples: [triple("fans", "f0", "n", k, "0000000000a-x")], cursor: String(k) })}`,
        ),
      async () => {},
      writes,
      gapMs,
    );
  } finally {
    for (const socket of [writer, ...receivers]) socket.close();
  }
}
