/**
 * Test support for the hostile-input suite (not exported from the package): a seeded stream of
 * frames that a hostile or broken client might send — valid messages mutated in depth, size,
 * types, keys, ids and clocks, plus plain garbage.
 */
import { encodeHlc, PROTOCOL_VERSION, TICKS_PER_MS } from "@trellis/core";
import { query } from "./raw-socket.js";

/** Numbers in [0, 1) determined by the seed (mulberry32). */
export type Random = () => number;

export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const int = (random: Random, max: number): number => Math.floor(random() * max);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const QUERY_INPUTS = [
  {},
  { where: { title: "x" } },
  { limit: 5, orderBy: ["title", "asc"] },
  { fields: { title: true, tags: { fields: { label: true } } } },
];

/** A valid message of each kind the server takes after `hello`. */
function template(random: Random): JsonObject {
  const hlc = encodeHlc({ ticks: Date.now() * TICKS_PER_MS + int(random, 1000), node: `storm${int(random, 5)}` });
  const triple = (): JsonObject => ({
    collection: "todos",
    id: `doc-${int(random, 50)}`,
    field: pick(random, ["title", "done"]),
    value: pick(random, ["x", true, 3, null]),
    hlc,
  });
  const room = { roomType: "doc", roomId: `room-${int(random, 5)}` };
  switch (int(random, 10)) {
    case 0:
      return {
        type: "subscribe",
        queryId: `q${int(random, 30)}`,
        query: JSON.parse(JSON.stringify(query("todos", pick(random, QUERY_INPUTS)))) as Json,
        cursor: pick(random, [null, "0", "12"]),
      };
    case 1:
      return { type: "unsubscribe", queryId: `q${int(random, 30)}` };
    case 2:
    case 3:
      return {
        type: "push",
        batchId: `b${int(random, 1e6)}`,
        triples: Array.from({ length: 1 + int(random, 4) }, triple),
      };
    case 4:
      return { type: "join", ...room, userStatus: { cursor: { x: int(random, 100), y: 1 } } };
    case 5:
      return { type: "emit", ...room, event: "like", data: { targetId: "p1" } };
    case 6:
      return { type: "setUserStatus", ...room, status: { isTyping: random() < 0.5 } };
    case 7:
      return { type: "setRoomStatus", ...room, status: { title: "t" } };
    case 8:
      return { type: "token", token: "not-a-token" };
    default:
      return { type: pick(random, ["ping", "hello"]), protocol: PROTOCOL_VERSION, appId: "storm", clientId: "c" };
  }
}

/** A place holding a value inside a message: read it, or put another value there. */
interface Slot {
  readonly get: () => Json;
  readonly set: (next: Json) => void;
}

/** Every place inside a message (the values of its objects and arrays, at every depth). */
function slotsOf(message: JsonObject): Slot[] {
  const out: Slot[] = [];
  const stack: Json[] = [message];
  while (stack.length > 0) {
    const each = stack.pop()!;
    if (each === null || typeof each !== "object") continue;
    const record = each as Record<string | number, Json>;
    const keys: Array<string | number> = Array.isArray(each) ? each.map((_, index) => index) : Object.keys(each);
    for (const key of keys) {
      out.push({ get: () => record[key]!, set: (next) => (record[key] = next) });
      stack.push(record[key]!);
    }
  }
  return out;
}

const BAD_IDS = ["", "../x", "a/b", "x".repeat(300), "%2e%2e", "\ud800", "x\udfff", "\udc00\ud800"];
const BAD_HLCS = [
  "",
  "zzzzzzzzzzz-node",
  "00000000000",
  encodeHlc({ ticks: Number.MAX_SAFE_INTEGER, node: "f" }),
  "-1",
  "x".repeat(200),
];
const PROTOTYPE_KEYS = ["__proto__", "constructor", "prototype"];
/** Stands for a value spliced into the frame's text after serializing (one JSON cannot build). */
const SPLICE = "__storm_splice__";

/** One mutation of a valid message, as frame text. */
function mutate(random: Random, message: JsonObject): string {
  const slots = slotsOf(message);
  const slot = slots.length === 0 ? undefined : pick(random, slots);
  switch (int(random, 12)) {
    case 0: {
      // Nested around the limit or far beyond it; spliced in, as building it would overflow here too.
      const depth = pick(random, [64, 65, 100, 4_100, 20_000]);
      if (slot === undefined) break;
      slot.set(SPLICE);
      return JSON.stringify(message).replace(`"${SPLICE}"`, `${"[".repeat(depth)}1${"]".repeat(depth)}`);
    }
    case 1:
      slot?.set("s".repeat(pick(random, [300, 70_000, 900_000])));
      break;
    case 2:
      slot?.set(Array.from({ length: pick(random, [100, 10_000, 60_000]) }, (_, index) => index));
      break;
    case 3:
      slot?.set(pick(random, [null, 0, -1, 1e308, "", true, [], {}, "NaN"]));
      break;
    case 4: {
      const objects = slots
        .map((each) => each.get())
        .filter((each): each is JsonObject => each !== null && typeof each === "object" && !Array.isArray(each));
      const target = objects.length === 0 ? message : pick(random, objects);
      // A __proto__ key cannot be set as a property; it is spliced into the text.
      target[SPLICE] = { polluted: true };
      return JSON.stringify(message).replace(`"${SPLICE}"`, JSON.stringify(pick(random, PROTOTYPE_KEYS)));
    }
    case 5:
      slot?.set(pick(random, BAD_IDS));
      break;
    case 6:
      slot?.set(pick(random, BAD_HLCS));
      break;
    case 7: {
      const keys = Object.keys(message);
      if (keys.length > 0) delete message[pick(random, keys)];
      break;
    }
    case 8:
      message[pick(random, ["extra", "type", "queryId", "batchId"])] = pick(random, [1, "x", null, {}]);
      break;
    case 9: {
      const text = JSON.stringify(message);
      return text.slice(0, int(random, text.length));
    }
    case 10:
      return Array.from({ length: 1 + int(random, 200) }, () => String.fromCharCode(int(random, 0xffff))).join("");
    default:
      // Left valid: the storm carries real traffic too.
      break;
  }
  return JSON.stringify(message);
}

/** The first `count` frames of the storm of `seed`. */
export function* stormFrames(seed: number, count: number): Generator<string> {
  const random = createRandom(seed);
  for (let i = 0; i < count; i++) yield mutate(random, template(random));
}
