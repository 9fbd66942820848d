/**
 * The most arrays and objects a frame, a line of a streamed push, an HTTP body, or one stored
 * value may hold. `JSON.parse` spends up to about 0.35 µs on each (an empty object is the most
 * costly), so whatever its shape a frame parses in about 12 ms at most: a frame of 1 MiB made of
 * empty objects would otherwise hold 330,000 of them and stop the server for over 100 ms.
 */
export const MAX_CONTAINERS = 32_768;

/**
 * The most arrays and objects one stored value may hold: a frame or line carrying it alone, with
 * its triple and envelope around it, stays within {@link MAX_CONTAINERS}.
 */
export const MAX_VALUE_CONTAINERS = 32_000;

/**
 * The deepest a frame may nest: a value's 64 levels inside a message's own,
 * or a query's nested relations and filters, with room to spare. `JSON.parse` slows down with
 * depth (a frame of 1 MiB nested 500,000 deep takes over 300 ms), so the depth is checked on the
 * text before it is parsed.
 */
export const MAX_FRAME_DEPTH = 256;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/** What a scan of JSON text found: its arrays and objects (counted up to one past the limit), and whether it nests too deep. */
export interface JsonShape {
  readonly containers: number;
  readonly isTooDeep: boolean;
}

/**
 * The shape of JSON text (a string or its UTF-8 bytes), read once without parsing it: strings
 * are skipped, and the scan stops as soon as a limit is passed. Malformed text gets a shape too:
 * `JSON.parse` refuses it next.
 *
 * @example
 * jsonShape('{"a":[1,{"b":2}]}') // { containers: 3, isTooDeep: false }
 */
export function jsonShape(
  text: string | Uint8Array,
  maxDepth = MAX_FRAME_DEPTH,
  maxContainers = MAX_CONTAINERS,
): JsonShape {
  return typeof text === "string"
    ? shapeOfText(text, maxDepth, maxContainers)
    : shapeOfBytes(text, maxDepth, maxContainers);
}

/**
 * Why JSON text is too deep or holds too many arrays and objects to be parsed (see
 * {@link jsonShape}), or undefined when it is within the limits.
 *
 * @example
 * const body = "[".repeat(300) + "]".repeat(300);
 * const problem = jsonShapeProblem(body); // "nests deeper than 256 levels"
 * if (problem !== undefined) return fail("PROTOCOL", `The request body ${problem}.`); // refused before JSON.parse
 */
export function jsonShapeProblem(
  text: string | Uint8Array,
  maxDepth = MAX_FRAME_DEPTH,
  maxContainers = MAX_CONTAINERS,
): string | undefined {
  const shape = jsonShape(text, maxDepth, maxContainers);
  if (shape.isTooDeep) return `nests deeper than ${maxDepth} levels`;
  if (shape.containers > maxContainers) return `holds more than ${maxContainers} arrays and objects`;
  return undefined;
}

// Two copies of one loop: each stays monomorphic (string code units or bytes), which keeps a
// scan of 1 MiB at 1–2 ms. Brackets, quotes and backslashes are ASCII, and neither UTF-16 code
// units nor UTF-8 bytes of other characters can be mistaken for them.

function shapeOfText(text: string, maxDepth: number, maxContainers: number): JsonShape {
  let depth = 0;
  let containers = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit === QUOTE) {
      for (i++; i < text.length; i++) {
        const inner = text.charCodeAt(i);
        if (inner === BACKSLASH) i++;
        else if (inner === QUOTE) break;
      }
    } else if (unit === OPEN_ARRAY || unit === OPEN_OBJECT) {
      if (++depth > maxDepth) return { containers, isTooDeep: true };
      if (++containers > maxContainers) return { containers, isTooDeep: false };
    } else if (unit === CLOSE_ARRAY || unit === CLOSE_OBJECT) {
      depth--;
    }
  }
  return { containers, isTooDeep: false };
}

function shapeOfBytes(bytes: Uint8Array, maxDepth: number, maxContainers: number): JsonShape {
  let depth = 0;
  let containers = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === QUOTE) {
      for (i++; i < bytes.length; i++) {
        const inner = bytes[i];
        if (inner === BACKSLASH) i++;
        else if (inner === QUOTE) break;
      }
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      if (++depth > maxDepth) return { containers, isTooDeep: true };
      if (++containers > maxContainers) return { containers, isTooDeep: false };
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth--;
    }
  }
  return { containers, isTooDeep: false };
}

/** Arrays and objects in a parsed JSON value, counted until past `max` (then `max + 1`). */
export function containersOf(value: unknown, max = MAX_CONTAINERS): number {
  if (typeof value !== "object" || value === null) return 0;
  let count = 0;
  const stack: object[] = [value];
  while (stack.length > 0) {
    const each = stack.pop()!;
    if (++count > max) return count;
    for (const child of Array.isArray(each) ? each : Object.values(each))
      if (typeof child === "object" && child !== null) stack.push(child);
  }
  return count;
}
