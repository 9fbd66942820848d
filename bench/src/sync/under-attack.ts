/**
 * Well-behaved clients under attack: write → remote callback latency between two sockets of one
 * app, and the slowest ping round trip of a third socket in another app (an upper bound on how
 * long the server's event loop stood still), first with the server quiet, then while a hostile
 * process sends a storm of mutated frames and relation queries that multiply (attacker.ts), and
 * while a 500,000-triple push arrives over HTTP.
 */
import { percentile } from "../stats.js";
import type { AttackCounts } from "./attacker.js";
import type { Child } from "./ipc.js";
import { openProtocolSocket } from "./protocol-socket.js";
import { createHlcSource, everyDocument, triple } from "./schema.js";

export interface CalmClients {
  readonly writes: number;
  /** Write sent → the subscribed socket has the change, µs. */
  readonly p50Us: number;
  readonly p99Us: number;
  /** The slowest ping → pong of a socket in another app meanwhile, ms. */
  readonly worstPingMs: number;
}

export interface UnderAttackResult {
  readonly quiet: CalmClients;
  readonly attacked: CalmClients & AttackCounts;
  readonly largePush: {
    readonly triples: number;
    readonly megabytes: number;
    readonly ackMs: number;
    readonly worstPingMs: number;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** How long the attack runs before the well-behaved clients are timed. */
const STEADY_AFTER_MS = 2_500;

/** Pings from a socket of its own every few ms until stopped; answers the slowest round trip. */
async function startPinging(serverUrl: string, appId: string): Promise<{ stop(): Promise<number> }> {
  const socket = await openProtocolSocket(serverUrl, appId, "pinger");
  let worst = 0;
  let isRunning = true;
  let pong: (() => void) | undefined;
  socket.onFrame = (text) => {
    if (text.includes('"type":"pong"')) pong?.();
    return true;
  };
  const loop = (async () => {
    while (isRunning) {
      const start = performance.now();
      await new Promise<void>((resolve) => {
        pong = resolve;
        socket.send({ type: "ping" });
      });
      worst = Math.max(worst, performance.now() - start);
      await sleep(5);
    }
  })();
  return {
    stop: async () => {
      isRunning = false;
      await loop;
      await socket.close();
      return worst;
    },
  };
}

/** `writes` writes from one socket, each timed until a socket subscribed to the collection has it. */
export async function calmClients(
  serverUrl: string,
  appId: string,
  writes: number,
  gapMs: number,
): Promise<CalmClients> {
  const reader = await openProtocolSocket(serverUrl, appId, "reader");
  const writer = await openProtocolSocket(serverUrl, appId, "writer");
  const hlc = createHlcSource(`${appId}-writer`);
  reader.send({ type: "subscribe", queryId: "all", query: everyDocument("items"), cursor: null });
  await reader.next("snapshot");
  let arrived: (() => void) | undefined;
  reader.onFrame = (text) => {
    if (text.startsWith('{"type":"changes"')) arrived?.();
    return true;
  };
  writer.onFrame = () => true;
  const pinger = await startPinging(serverUrl, `${appId}-pings`);
  const samples: number[] = [];
  try {
    for (let k = -10; k < writes; k++) {
      const start = performance.now();
      await new Promise<void>((resolve) => {
        arrived = resolve;
        writer.send({ type: "push", batchId: `w${k + 10}`, triples: [triple("items", "calm", "n", k, hlc())] });
      });
      // The first ten warm up.
      if (k >= 0) samples.push((performance.now() - start) * 1000);
      await sleep(gapMs);
    }
  } finally {
    await Promise.all([reader.close(), writer.close()]);
  }
  return { writes, p50Us: percentile(samples, 50), p99Us: percentile(samples, 99), worstPingMs: await pinger.stop() };
}

/** {@link calmClients} while `attacker` (attacker.js) attacks. */
export async function calmClientsUnderAttack(
  attacker: Child,
  serverUrl: string,
  writes: number,
  gapMs: number,
  seed: number,
): Promise<UnderAttackResult["attacked"]> {
  await attacker.call("start", { serverUrl, seed });
  // Timed once the attack is steady: past the first seconds, in which the attacker's users spend
  // the burst of their share of server time (see the server's workBurstMs).
  await sleep(STEADY_AFTER_MS);
  try {
    const calm = await calmClients(serverUrl, "bench-attacked", writes, gapMs);
    return { ...calm, ...(await attacker.call<AttackCounts>("stop")) };
  } catch (error) {
    await attacker.call("stop").catch(() => {});
    throw error;
  }
}

/** A push of `count` triples over HTTP, timed to its answer, with another app pinging meanwhile. */
export async function largePush(serverUrl: string, count: number): Promise<UnderAttackResult["largePush"]> {
  const hlc = createHlcSource("large-pusher");
  const triples = Array.from({ length: count }, (_, index) =>
    triple(
      "items",
      `large-${Math.floor(index / 2)}`,
      index % 2 === 0 ? "n" : "title",
      index % 2 === 0 ? index : "a title of some length",
      hlc(),
    ),
  );
  // As the client sends a push too large for a frame: its envelope, then a triple per line.
  const body = [
    JSON.stringify({ appId: "bench-large", clientId: "large", batchId: "large" }),
    ...triples.map((each) => JSON.stringify(each)),
  ].join("\n");
  const pinger = await startPinging(serverUrl, "bench-large-pings");
  const start = performance.now();
  const answer = await fetch(`${serverUrl}/v1/push`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson", "x-trellis-user": "large" },
    body,
  });
  const ackMs = performance.now() - start;
  if (!answer.ok) throw new Error(`the large push failed: HTTP ${answer.status} ${await answer.text()}`);
  return { triples: count, megabytes: Buffer.byteLength(body) / 1024 / 1024, ackMs, worstPingMs: await pinger.stop() };
}
