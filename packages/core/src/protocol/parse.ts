import { type DatabaseResult, fail, ok } from "../errors.js";
import type { Triple } from "../triples.js";
import { jsonShapeProblem } from "./json-shape.js";
import {
  type ClientMessage,
  clientMessages,
  DEFAULT_MAX_FRAME_BYTES,
  type ServerMessage,
  serverMessages,
} from "./messages.js";
import { describe, Invalid, type WireSchema } from "./wire-schema.js";
import { FORBIDDEN_KEYS, triple } from "./wire-values.js";

// The value limits are the protocol's, named where the parsers are.
export { exceedsValueDepth, MAX_VALUE_DEPTH } from "./wire-values.js";

/** Limits of {@link parseClientMessage} / {@link parseServerMessage}. */
export interface ParseLimits {
  /** Largest accepted frame in UTF-8 bytes. Default 1 MiB. */
  readonly maxBytes?: number;
}

type Obj = Record<string, unknown>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Where {@link utf8BytesUpTo} encodes, for limits up to 4 MiB (made on first use). */
let scratch: Uint8Array | undefined;

/** UTF-8 length of `text`, counting no further than just past `limit`. */
function utf8BytesUpTo(text: string, limit: number): number {
  if (text.length > limit) return text.length; // every code unit is at least one byte
  if (text.length * 3 <= limit) return text.length; // every code unit is at most three bytes
  if (limit <= 4 * 1024 * 1024) {
    // Encoding natively into a buffer one byte past the limit tells both at once.
    if (scratch === undefined || scratch.length < limit + 1) scratch = new Uint8Array(limit + 1);
    const { read, written } = encoder.encodeInto(text, scratch.subarray(0, limit + 1));
    return read < text.length ? limit + 1 : written;
  }
  let bytes = 0;
  for (let i = 0; i < text.length && bytes <= limit; i++) {
    const unit = text.charCodeAt(i);
    // A surrogate pair is 4 bytes: 2 for each half.
    bytes += unit < 0x80 ? 1 : unit < 0x800 ? 2 : unit >= 0xd800 && unit <= 0xdfff ? 2 : 3;
  }
  return bytes;
}

/** Finds a forbidden key anywhere in a parsed value, iteratively (deep nesting cannot overflow the stack). */
function forbiddenKey(root: unknown): string | undefined {
  if (typeof root !== "object" || root === null) return undefined;
  // Only objects and arrays go on the stack: a frame of a million numbers costs one pass.
  const stack: object[] = [root];
  while (stack.length > 0) {
    const value = stack.pop()!;
    if (Array.isArray(value)) {
      for (const each of value) if (typeof each === "object" && each !== null) stack.push(each);
      continue;
    }
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) return key;
      const each = (value as Obj)[key];
      if (typeof each === "object" && each !== null) stack.push(each);
    }
  }
  return undefined;
}

function parseFrame<T>(
  side: "client" | "server",
  frame: unknown,
  limits: ParseLimits | undefined,
  messages: WireSchema<T>,
): DatabaseResult<T> {
  const what = `${side} message`;
  // ArrayBuffer.isView, not instanceof: a Buffer from another realm (a test runner's) counts too.
  if (typeof frame !== "string" && !(ArrayBuffer.isView(frame) && (frame as Uint8Array).BYTES_PER_ELEMENT === 1))
    return fail("PROTOCOL", `Refused a ${what}: expected a text frame, got ${describe(frame)}.`);
  const maxBytes = limits?.maxBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const bytes = typeof frame === "string" ? undefined : (frame as Uint8Array);
  if ((bytes === undefined ? utf8BytesUpTo(frame as string, maxBytes) : bytes.byteLength) > maxBytes) {
    return fail("PROTOCOL", `Refused a ${what}: the frame is larger than the limit of ${maxBytes} bytes.`, {
      maxBytes,
    });
  }
  // What a client sends is bounded before it is parsed: parsing is the costly part. A server's
  // frames (snapshots of many documents) may hold more.
  const problem = side === "client" ? jsonShapeProblem(bytes ?? (frame as string)) : undefined;
  if (problem !== undefined) return fail("PROTOCOL", `Refused a ${what}: the frame ${problem}.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes === undefined ? (frame as string) : decoder.decode(bytes));
  } catch {
    return fail("PROTOCOL", `Refused a ${what}: the frame is not valid JSON.`);
  }
  return parseValue(side, parsed, messages);
}

/** The checks of a frame after JSON parsing: shape, forbidden keys, then the message's own fields. */
function parseValue<T>(side: "client" | "server", parsed: unknown, messages: WireSchema<T>): DatabaseResult<T> {
  const what = `${side} message`;
  try {
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return fail("PROTOCOL", `Refused a ${what}: expected a JSON object, got ${describe(parsed)}.`);
    }
    const forbidden = forbiddenKey(parsed);
    if (forbidden !== undefined) {
      return fail(
        "PROTOCOL",
        `Refused a ${what}: the key ${JSON.stringify(forbidden)} is not allowed anywhere in a message.`,
        { key: forbidden },
      );
    }
    return ok(messages.read(parsed, ""));
  } catch (error) {
    if (error instanceof Invalid) {
      const type = (parsed as Obj).type;
      const subject =
        typeof type === "string" && error.path !== "type" ? `a ${JSON.stringify(type)} ${what}` : `a ${what}`;
      return fail("PROTOCOL", `Refused ${subject}: ${error.path}: ${error.reason}.`, { path: error.path });
    }
    // Anything else (say, a stack overflow on absurd nesting) is still the peer's bad input.
    return fail("PROTOCOL", `Refused a ${what}: ${error instanceof Error ? error.message : String(error)}.`);
  }
}

/**
 * Checks one value as the triple at `index` of a pushed batch (`triples[index]` of a `push`), for
 * bodies too large to check in one go, such as a push streamed line by line: errors name the
 * triple by its index in the whole batch. The forbidden-key and depth checks run on it too.
 *
 * @example
 * // A push streamed as lines of JSON, a triple on each:
 * const lines = triples.map((each) => JSON.stringify(each));
 * for (const [index, line] of lines.entries()) {
 *   const triple = parseTriple(JSON.parse(line), index);
 *   if (triple.error) return triple.error; // 'Refused a "push" client message: triples[3].hlc: …'
 * }
 */
export function parseTriple(value: unknown, index: number): DatabaseResult<Triple> {
  const forbidden = forbiddenKey(value);
  if (forbidden !== undefined) {
    return fail(
      "PROTOCOL",
      `Refused a "push" client message: the key ${JSON.stringify(forbidden)} is not allowed anywhere in a message.`,
      { key: forbidden },
    );
  }
  try {
    return ok(triple.read(value, `triples[${index}]`));
  } catch (error) {
    if (error instanceof Invalid)
      return fail("PROTOCOL", `Refused a "push" client message: ${error.path}: ${error.reason}.`, { path: error.path });
    throw error;
  }
}

/**
 * Parses and validates one frame a client sent (server side), as text or as its UTF-8 bytes (the
 * cheaper to check). Never throws: anything that does not follow the protocol is a PROTOCOL
 * error naming what is wrong and where. Its size, depth and number of arrays and objects are
 * checked before it is parsed (see `MAX_CONTAINERS`).
 *
 * @example
 * const frame = new TextEncoder().encode('{"type":"ping"}'); // as `ws` hands a frame over
 * const { data: message, error } = parseClientMessage(frame, { maxBytes: 64 * 1024 });
 * if (error) return { type: "error", ...error.toJSON() }; // the server's answer to a bad frame
 * message.type; // "ping"
 */
export function parseClientMessage(text: string | Uint8Array, limits?: ParseLimits): DatabaseResult<ClientMessage> {
  return parseFrame("client", text, limits, clientMessages);
}

/**
 * Parses and validates one frame a server sent (client side). Never throws.
 *
 * @example
 * socket.addEventListener("message", ({ data }) => {
 *   const { data: message, error } = parseServerMessage(data as string);
 *   if (error) return console.warn(error.message);
 *   if (message.type === "changes") for (const triple of message.triples) store.applyTriple(triple);
 * });
 */
export function parseServerMessage(text: string, limits?: ParseLimits): DatabaseResult<ServerMessage> {
  return parseFrame("server", text, limits, serverMessages);
}

/**
 * {@link parseClientMessage} for a value already parsed from JSON (an HTTP body), with no size
 * limit: the same checks without serializing and parsing it again. The message is not a copy:
 * it may be `value` itself, or share parts of it.
 *
 * @example
 * // The body of POST /v1/push, already parsed, checked as the `push` message it stands for:
 * const { data: push, error } = parseClientValue({ type: "push", batchId: "b1", triples });
 * if (push?.type === "push") console.log(`${push.triples.length} triples to store`);
 */
export function parseClientValue(value: unknown): DatabaseResult<ClientMessage> {
  return parseValue("client", value, clientMessages);
}

/**
 * {@link parseServerMessage} for a value already parsed from JSON (an HTTP answer, preloaded data).
 * Like {@link parseClientValue}, the message may be `value` itself, or share parts of it.
 *
 * @example
 * const response = await fetch(`${serverUrl}/v1/query`, {
 *   method: "POST",
 *   headers: { "content-type": "application/json", "x-trellis-app": appId },
 *   body: JSON.stringify({ appId, query: normalized, cursor: null }),
 * });
 * const answer = (await response.json()) as object; // { triples, cursor }: a `changes` without its type
 * const { data: changes, error } = parseServerValue({ ...answer, type: "changes" });
 */
export function parseServerValue(value: unknown): DatabaseResult<ServerMessage> {
  return parseValue("server", value, serverMessages);
}
