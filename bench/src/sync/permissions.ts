/**
 * What permission rules cost, each figure measured against the same work on a server without
 * rules in the same run: the initial snapshot of a large query under an owner rule, a change
 * reaching subscribers who each read through a sharing rule, pushes checked by an update rule,
 * and how long a revoked document takes to leave its reader.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ServerProcess, startServerProcess, tempDataDir } from "@trellis/server/testing";
import type { Triple } from "@trellis/core";
import { median, percentile } from "../stats.js";
import { openProtocolSocket, type ProtocolSocket } from "./protocol-socket.js";
import { createHlcSource, everyDocument } from "./schema.js";

/** The rules of the rules server: owners read and write their loads; fans are read by owner or sharing. */
export const BENCH_RULES = {
  loads: { read: { owner: "$user.id" }, create: { owner: "$user.id" }, update: { owner: "$user.id" } },
  fans: { read: { or: [{ owner: "$user.id" }, { sharedWith: "$user.id" }] }, create: { owner: "$user.id" }, update: { owner: "$user.id" } },
};

export interface RulesCostResult {
  readonly docs: number;
  /** Median `POST /v1/query` of every document, without rules and under the owner rule. */
  readonly snapshot: { readonly plainMs: number; readonly rulesMs: number };
  /** Write → change received by each of `subscribers`, without rules and with a sharing rule each. */
  readonly live: { readonly subscribers: number; readonly writes: number; readonly plainP50Ms: number; readonly rulesP50Ms: number; readonly plainP99Ms: number; readonly rulesP99Ms: number };
  /** Pushes of updates, acknowledged, without rules and under the update rule. */
  readonly push: { readonly triples: number; readonly plainPerSecond: number; readonly rulesPerSecond: number };
  /** Sharing removed → the reader told to drop the document. */
  readonly revocation: { readonly runs: number; readonly p50Ms: number; readonly p99Ms: number };
}

/** Starts a server whose rules are {@link BENCH_RULES}. */
export async function startRulesServer(): Promise<ServerProcess> {
  const dataDir = tempDataDir();
  const file = join(dataDir, "rules.json");
  writeFileSync(file, JSON.stringify(BENCH_RULES));
  return startServerProcess({ dataDir, args: ["--permissions", file] });
}

const OWNER = "owner";

export async function rulesCost(
  plainUrl: string,
  rulesUrl: string,
  sizes: { readonly docs: number; readonly subscribers: number; readonly writes: number; readonly pushes: number; readonly revocations: number; readonly gapMs: number },
): Promise<RulesCostResult> {
  const snapshot = { plainMs: await snapshotMs(plainUrl, sizes.docs), rulesMs: await snapshotMs(rulesUrl, sizes.docs) };
  const push = { triples: sizes.pushes * 100, plainPerSecond: await pushRate(plainUrl, sizes.pushes), rulesPerSecond: await pushRate(rulesUrl, sizes.pushes) };
  const plainLive = await liveLatencies(plainUrl, sizes.subscribers, sizes.writes, sizes.gapMs);
  const rulesLive = await liveLatencies(rulesUrl, sizes.subscribers, sizes.writes, sizes.gapMs);
  const revocations = await revocationLatencies(rulesUrl, sizes.revocations);
  return {
    docs: sizes.docs,
    snapshot,
    push,
    live: {
      subscribers: sizes.subscribers,
      writes: sizes.writes,
      plainP50Ms: percentile(plainLive, 50),
      rulesP50Ms: percentile(rulesLive, 50),
      plainP99Ms: percentile(plainLive, 99),
      rulesP99Ms: percentile(rulesLive, 99),
    },
    revocation: { runs: revocations.length, p50Ms: percentile(revocations, 50), p99Ms: percentile(revocations, 99) },
  };
}

const hlc = createHlcSource(OWNER);

function loadTriples(index: number, extra: Readonly<Record<string, unknown>> = {}): Triple[] {
  const id = `load-${index}`;
  const fields = { createdAt: 1_700_000_000_000 + index, title: `load ${index}`, tag: `tag-${index % 10}`, priority: index % 5, owner: OWNER, ...extra };
  return Object.entries(fields).map(([field, value]) => ({ collection: "loads", id, field, value, hlc: hlc() }));
}

/** Pushes frames and waits for every ack, a few frames in flight (acks come in order). */
async function pushAll(socket: ProtocolSocket, frames: readonly Triple[][]): Promise<void> {
  let sent = 0;
  let acked = 0;
  let failure: string | undefined;
  let wake: (() => void) | undefined;
  socket.onFrame = (text) => {
    if (text.startsWith('{"type":"ack"')) acked++;
    else if (text.startsWith('{"type":"error"')) failure = text;
    else return false;
    wake?.();
    return true;
  };
  try {
    while (acked < frames.length) {
      while (sent < frames.length && sent - acked < 4) socket.send({ type: "push", batchId: `b${sent}`, triples: frames[sent++]! });
      await new Promise<void>((resolve) => (wake = resolve));
      if (failure !== undefined) throw new Error(`a push was refused: ${failure.slice(0, 300)}`);
    }
  } finally {
    socket.onFrame = undefined;
  }
}

async function snapshotMs(url: string, docs: number): Promise<number> {
  const appId = "bench-rules-load";
  const socket = await openProtocolSocket(url, appId, OWNER);
  try {
    const frames: Triple[][] = [];
    for (let start = 0; start < docs; start += 500) frames.push(Array.from({ length: Math.min(500, docs - start) }, (_, k) => loadTriples(start + k)).flat());
    await pushAll(socket, frames);
  } finally {
    await socket.close();
  }
  const body = JSON.stringify({ appId, query: everyDocument("loads"), cursor: null });
  const times: number[] = [];
  for (let run = 0; run <= 5; run++) {
    const start = performance.now();
    const response = await fetch(`${url}/v1/query`, { method: "POST", headers: { "content-type": "application/json", "x-trellis-user": OWNER }, body });
    const answer = JSON.parse(await response.text()) as { triples?: Triple[] };
    const ms = performance.now() - start;
    const count = new Set(answer.triples?.map((triple) => triple.id)).size;
    if (count !== docs) throw new Error(`POST /v1/query returned ${count} documents, expected ${docs}`);
    if (run > 0) times.push(ms);
  }
  return median(times);
}

async function pushRate(url: string, pushes: number): Promise<number> {
  const socket = await openProtocolSocket(url, "bench-rules-push", OWNER);
  try {
    // The documents first, then timed frames of 100 updates each.
    await pushAll(socket, [Array.from({ length: 100 }, (_, k) => loadTriples(k)).flat()]);
    const frames = Array.from({ length: pushes }, (_, frame) =>
      Array.from({ length: 100 }, (_, k): Triple => ({ collection: "loads", id: `load-${k}`, field: "priority", value: frame, hlc: hlc() })),
    );
    const start = performance.now();
    await pushAll(socket, frames);
    return ((pushes * 100) / (performance.now() - start)) * 1000;
  } finally {
    await socket.close();
  }
}

/** Time from each write's push to each subscriber's frame carrying it. */
async function liveLatencies(url: string, subscribers: number, writes: number, gapMs: number): Promise<number[]> {
  const appId = "bench-rules-live";
  const writer = await openProtocolSocket(url, appId, OWNER);
  const readers: ProtocolSocket[] = [];
  try {
    const ids = Array.from({ length: subscribers }, (_, k) => `reader-${k}`);
    const fan: Triple[] = [
      { collection: "fans", id: "fan", field: "createdAt", value: 1_700_000_000_000, hlc: hlc() },
      { collection: "fans", id: "fan", field: "n", value: -1, hlc: hlc() },
      { collection: "fans", id: "fan", field: "owner", value: OWNER, hlc: hlc() },
      ...ids.map((id): Triple => ({ collection: "fans", id: "fan", field: "sharedWith", element: id, value: true, hlc: hlc() })),
    ];
    await pushAll(writer, [fan]);
    const sentAt = new Map<number, number>();
    const latencies: number[] = [];
    for (const id of ids) {
      const reader = await openProtocolSocket(url, appId, id);
      reader.send({ type: "subscribe", queryId: "fans", query: everyDocument("fans"), cursor: null });
      await reader.next("snapshot");
      reader.onFrame = (text) => {
        const at = performance.now();
        const match = /"field":"n","value":(\d+)/.exec(text);
        const sent = match === null ? undefined : sentAt.get(Number(match[1]));
        if (sent !== undefined) latencies.push(at - sent);
        return true;
      };
      readers.push(reader);
    }
    for (let k = 0; k < writes; k++) {
      sentAt.set(k, performance.now());
      writer.send({ type: "push", batchId: `w${k}`, triples: [{ collection: "fans", id: "fan", field: "n", value: k, hlc: hlc() }] });
      await writer.next("ack");
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    const deadline = Date.now() + 10_000;
    while (latencies.length < writes * subscribers && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    if (latencies.length < writes * subscribers) throw new Error(`${latencies.length} of ${writes * subscribers} changes arrived`);
    return latencies;
  } finally {
    await Promise.all([writer, ...readers].map((socket) => socket.close()));
  }
}

/** Sharing of one document removed and given back, `runs` times: time until the reader is told to drop it. */
async function revocationLatencies(url: string, runs: number): Promise<number[]> {
  const appId = "bench-rules-revoke";
  const owner = await openProtocolSocket(url, appId, OWNER);
  const reader = await openProtocolSocket(url, appId, "reader");
  try {
    const share = (isShared: boolean): Triple => ({ collection: "fans", id: "shared", field: "sharedWith", element: "reader", value: isShared, hlc: hlc() });
    await pushAll(owner, [
      [
        { collection: "fans", id: "shared", field: "createdAt", value: 1_700_000_000_000, hlc: hlc() },
        { collection: "fans", id: "shared", field: "owner", value: OWNER, hlc: hlc() },
        share(true),
      ],
    ]);
    reader.send({ type: "subscribe", queryId: "fans", query: everyDocument("fans"), cursor: null });
    await reader.next("snapshot");
    let waiting: { readonly revoked: boolean; readonly resolve: () => void } | undefined;
    reader.onFrame = (text) => {
      if (waiting !== undefined && text.includes('"revoked"') === waiting.revoked) {
        const done = waiting;
        waiting = undefined;
        done.resolve();
      }
      return true;
    };
    const latencies: number[] = [];
    for (let run = 0; run < runs; run++) {
      for (const isShared of [false, true]) {
        const arrived = new Promise<void>((resolve) => (waiting = { revoked: !isShared, resolve }));
        const start = performance.now();
        owner.send({ type: "push", batchId: `r${run}${isShared}`, triples: [share(isShared)] });
        await arrived;
        if (!isShared) latencies.push(performance.now() - start);
        await owner.next("ack");
      }
    }
    return latencies;
  } finally {
    await Promise.all([owner.close(), reader.close()]);
  }
}
