/**
 * What permission rules cost, each figure measured against the same work on a server without
 * rules in the same run: the initial snapshot of a large query under an owner rule and under a
 * rule through a relation (a task readable by its project's members), a change reaching
 * subscribers who each read through a sharing rule or a membership rule, pushes checked by an
 * update rule, and how long a revoked document takes to leave its reader (sharing removed, or
 * membership of the project removed).
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
  fans: {
    read: { or: [{ owner: "$user.id" }, { sharedWith: "$user.id" }] },
    create: { owner: "$user.id" },
    update: { owner: "$user.id" },
  },
  projects: { read: { memberIds: "$user.id" }, create: true, update: true },
  tasks: { read: { projectId: { where: { memberIds: "$user.id" } } }, create: true, update: true },
};

export interface RulesCostResult {
  readonly docs: number;
  /** Median `POST /v1/query` of every document, without rules and under the owner rule. */
  readonly snapshot: { readonly plainMs: number; readonly rulesMs: number };
  /** The same of `docs` tasks spread over projects, without rules and under the membership rule. */
  readonly membershipSnapshot: { readonly plainMs: number; readonly rulesMs: number };
  /** Write → change received by each of `subscribers`, without rules and with a sharing rule each. */
  readonly live: LiveCost;
  /** The same with a membership rule each (the task is readable through its project). */
  readonly membershipLive: LiveCost;
  /** Pushes of updates, acknowledged, without rules and under the update rule. */
  readonly push: { readonly triples: number; readonly plainPerSecond: number; readonly rulesPerSecond: number };
  /** Sharing removed → the reader told to drop the document. */
  readonly revocation: { readonly runs: number; readonly p50Ms: number; readonly p99Ms: number };
  /** Membership of the project removed → the reader told to drop its task. */
  readonly membershipRevocation: { readonly runs: number; readonly p50Ms: number; readonly p99Ms: number };
}

export interface LiveCost {
  readonly subscribers: number;
  readonly writes: number;
  readonly plainP50Ms: number;
  readonly rulesP50Ms: number;
  readonly plainP99Ms: number;
  readonly rulesP99Ms: number;
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
  sizes: {
    readonly docs: number;
    readonly subscribers: number;
    readonly writes: number;
    readonly pushes: number;
    readonly revocations: number;
    readonly gapMs: number;
  },
): Promise<RulesCostResult> {
  const snapshot = {
    plainMs: await snapshotMs(plainUrl, OWNED, sizes.docs),
    rulesMs: await snapshotMs(rulesUrl, OWNED, sizes.docs),
  };
  const membershipSnapshot = {
    plainMs: await snapshotMs(plainUrl, IN_PROJECTS, sizes.docs),
    rulesMs: await snapshotMs(rulesUrl, IN_PROJECTS, sizes.docs),
  };
  const push = {
    triples: sizes.pushes * 100,
    plainPerSecond: await pushRate(plainUrl, sizes.pushes),
    rulesPerSecond: await pushRate(rulesUrl, sizes.pushes),
  };
  const live = async (shape: LiveShape): Promise<LiveCost> => {
    const plain = await liveLatencies(plainUrl, shape, sizes.subscribers, sizes.writes, sizes.gapMs);
    const rules = await liveLatencies(rulesUrl, shape, sizes.subscribers, sizes.writes, sizes.gapMs);
    return {
      subscribers: sizes.subscribers,
      writes: sizes.writes,
      plainP50Ms: percentile(plain, 50),
      rulesP50Ms: percentile(rules, 50),
      plainP99Ms: percentile(plain, 99),
      rulesP99Ms: percentile(rules, 99),
    };
  };
  const revocations = await revocationLatencies(rulesUrl, SHARING, sizes.revocations);
  const membershipRevocations = await revocationLatencies(rulesUrl, MEMBERSHIP, sizes.revocations);
  return {
    docs: sizes.docs,
    snapshot,
    membershipSnapshot,
    push,
    live: await live(SHARED_FAN),
    membershipLive: await live(PROJECT_FAN),
    revocation: { runs: revocations.length, p50Ms: percentile(revocations, 50), p99Ms: percentile(revocations, 99) },
    membershipRevocation: {
      runs: membershipRevocations.length,
      p50Ms: percentile(membershipRevocations, 50),
      p99Ms: percentile(membershipRevocations, 99),
    },
  };
}

const hlc = createHlcSource(OWNER);

function loadTriples(index: number, extra: Readonly<Record<string, unknown>> = {}): Triple[] {
  return documentOf("loads", `load-${index}`, {
    createdAt: 1_700_000_000_000 + index,
    title: `load ${index}`,
    tag: `tag-${index % 10}`,
    priority: index % 5,
    owner: OWNER,
    ...extra,
  });
}

/** A whole document's triples; `members` become elements of its `memberIds` set. */
function documentOf(
  collection: string,
  id: string,
  fields: Readonly<Record<string, unknown>>,
  members: readonly string[] = [],
): Triple[] {
  return [
    ...Object.entries(fields).map(([field, value]): Triple => ({ collection, id, field, value, hlc: hlc() })),
    ...members.map((member): Triple => ({
      collection,
      id,
      field: "memberIds",
      element: member,
      value: true,
      hlc: hlc(),
    })),
  ];
}

/** What a snapshot phase loads and asks for: frames pushed first, then every document of `collection`. */
interface SnapshotShape {
  readonly appId: string;
  readonly collection: "loads" | "tasks";
  frames(docs: number): Triple[][];
}

/** Documents the owner owns (the owner rule). */
const OWNED: SnapshotShape = {
  appId: "bench-rules-load",
  collection: "loads",
  frames: (docs) => chunked(docs, (index) => loadTriples(index)),
};

const PROJECTS = 100;

/** Tasks spread over projects the owner is a member of (the membership rule reads each task's project). */
const IN_PROJECTS: SnapshotShape = {
  appId: "bench-rules-members",
  collection: "tasks",
  frames: (docs) => [
    Array.from({ length: PROJECTS }, (_, k) =>
      documentOf("projects", `project-${k}`, { createdAt: 1_700_000_000_000 }, [OWNER, `member-${k}`]),
    ).flat(),
    ...chunked(docs, (index) =>
      documentOf("tasks", `task-${index}`, {
        createdAt: 1_700_000_000_000 + index,
        title: `task ${index}`,
        priority: index % 5,
        projectId: `project-${index % PROJECTS}`,
      }),
    ),
  ],
};

/** Frames of 500 documents each. */
function chunked(docs: number, documentTriples: (index: number) => Triple[]): Triple[][] {
  const frames: Triple[][] = [];
  for (let start = 0; start < docs; start += 500)
    frames.push(Array.from({ length: Math.min(500, docs - start) }, (_, k) => documentTriples(start + k)).flat());
  return frames;
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
      while (sent < frames.length && sent - acked < 4)
        socket.send({ type: "push", batchId: `b${sent}`, triples: frames[sent++]! });
      await new Promise<void>((resolve) => (wake = resolve));
      if (failure !== undefined) throw new Error(`a push was refused: ${failure.slice(0, 300)}`);
    }
  } finally {
    socket.onFrame = undefined;
  }
}

async function snapshotMs(url: string, shape: SnapshotShape, docs: number): Promise<number> {
  const { appId, collection } = shape;
  const socket = await openProtocolSocket(url, appId, OWNER);
  try {
    await pushAll(socket, shape.frames(docs));
  } finally {
    await socket.close();
  }
  const body = JSON.stringify({ appId, query: everyDocument(collection), cursor: null });
  const times: number[] = [];
  for (let run = 0; run <= 5; run++) {
    const start = performance.now();
    const response = await fetch(`${url}/v1/query`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-trellis-user": OWNER },
      body,
    });
    const answer = JSON.parse(await response.text()) as { triples?: Triple[] };
    const ms = performance.now() - start;
    const count = new Set(
      answer.triples?.filter((triple) => triple.collection === collection).map((triple) => triple.id),
    ).size;
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
      Array.from({ length: 100 }, (_, k): Triple => ({
        collection: "loads",
        id: `load-${k}`,
        field: "priority",
        value: frame,
        hlc: hlc(),
      })),
    );
    const start = performance.now();
    await pushAll(socket, frames);
    return ((pushes * 100) / (performance.now() - start)) * 1000;
  } finally {
    await socket.close();
  }
}

/** One document every reader may read, written to by the owner: readers follow its collection. */
interface LiveShape {
  readonly appId: string;
  readonly collection: "fans" | "tasks";
  readonly id: string;
  /** What makes the document readable to `readers`. */
  setup(readers: readonly string[]): Triple[];
}

/** A document shared with every reader (the sharing rule). */
const SHARED_FAN: LiveShape = {
  appId: "bench-rules-live",
  collection: "fans",
  id: "fan",
  setup: (readers) => [
    ...documentOf("fans", "fan", { createdAt: 1_700_000_000_000, n: -1, owner: OWNER }),
    ...readers.map((reader): Triple => ({
      collection: "fans",
      id: "fan",
      field: "sharedWith",
      element: reader,
      value: true,
      hlc: hlc(),
    })),
  ],
};

/** A task of a project every reader is a member of (the membership rule). */
const PROJECT_FAN: LiveShape = {
  appId: "bench-rules-members-live",
  collection: "tasks",
  id: "task",
  setup: (readers) => [
    ...documentOf("projects", "team", { createdAt: 1_700_000_000_000 }, readers),
    ...documentOf("tasks", "task", { createdAt: 1_700_000_000_000, n: -1, projectId: "team" }),
  ],
};

/** Time from each write's push to each subscriber's frame carrying it. */
async function liveLatencies(
  url: string,
  shape: LiveShape,
  subscribers: number,
  writes: number,
  gapMs: number,
): Promise<number[]> {
  const { appId, collection, id: written } = shape;
  const writer = await openProtocolSocket(url, appId, OWNER);
  const readers: ProtocolSocket[] = [];
  try {
    const ids = Array.from({ length: subscribers }, (_, k) => `reader-${k}`);
    await pushAll(writer, [shape.setup(ids)]);
    const sentAt = new Map<number, number>();
    const latencies: number[] = [];
    for (const id of ids) {
      const reader = await openProtocolSocket(url, appId, id);
      reader.send({ type: "subscribe", queryId: collection, query: everyDocument(collection), cursor: null });
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
      writer.send({
        type: "push",
        batchId: `w${k}`,
        triples: [{ collection, id: written, field: "n", value: k, hlc: hlc() }],
      });
      await writer.next("ack");
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    const deadline = Date.now() + 10_000;
    while (latencies.length < writes * subscribers && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
    if (latencies.length < writes * subscribers)
      throw new Error(`${latencies.length} of ${writes * subscribers} changes arrived`);
    return latencies;
  } finally {
    await Promise.all([writer, ...readers].map((socket) => socket.close()));
  }
}

/** How a reader gets and loses access to one document of `collection`. */
interface AccessShape {
  readonly appId: string;
  readonly collection: "fans" | "tasks";
  /** The documents, readable to "reader". */
  readonly setup: () => Triple[];
  /** The write that gives access back (true) or takes it away (false). */
  grant(isGranted: boolean): Triple;
}

/** The document is shared with the reader, or not. */
const SHARING: AccessShape = {
  appId: "bench-rules-revoke",
  collection: "fans",
  setup: () => [...documentOf("fans", "shared", { createdAt: 1_700_000_000_000, owner: OWNER }), SHARING.grant(true)],
  grant: (isShared) => ({
    collection: "fans",
    id: "shared",
    field: "sharedWith",
    element: "reader",
    value: isShared,
    hlc: hlc(),
  }),
};

/** The reader is a member of the task's project, or not: the task itself never changes. */
const MEMBERSHIP: AccessShape = {
  appId: "bench-rules-revoke-members",
  collection: "tasks",
  setup: () => [
    ...documentOf("projects", "project", { createdAt: 1_700_000_000_000 }, ["reader"]),
    ...documentOf("tasks", "task", { createdAt: 1_700_000_000_000, projectId: "project" }),
  ],
  grant: (isMember) => ({
    collection: "projects",
    id: "project",
    field: "memberIds",
    element: "reader",
    value: isMember,
    hlc: hlc(),
  }),
};

/** Access to one document taken away and given back, `runs` times: time until the reader is told to drop it. */
async function revocationLatencies(url: string, shape: AccessShape, runs: number): Promise<number[]> {
  const { appId, collection } = shape;
  const owner = await openProtocolSocket(url, appId, OWNER);
  const reader = await openProtocolSocket(url, appId, "reader");
  try {
    await pushAll(owner, [shape.setup()]);
    reader.send({ type: "subscribe", queryId: collection, query: everyDocument(collection), cursor: null });
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
        owner.send({ type: "push", batchId: `r${run}${isShared}`, triples: [shape.grant(isShared)] });
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
