import { type DatabaseResult, fail, ok } from "./errors.js";
import { ID_RULE, isId } from "./ids.js";

/**
 * A Hybrid Logical Clock reading. `ticks` packs wall time and a logical counter into one
 * integer (`ms * TICKS_PER_MS + counter`), so "later" is simply "larger" and a counter that
 * runs past its range carries into the next millisecond instead of wrapping. `node` breaks
 * ties between clocks that read the same ticks.
 */
export interface Hlc {
  readonly ticks: number;
  readonly node: string;
}

/** Logical events one node can stamp within one millisecond before borrowing the next one. */
export const TICKS_PER_MS = 1024;
// 2^53 / 1024 ms is about the year 2248: every tick value stays an exact double until then.
const ENCODED_TICKS_WIDTH = 11; // Number.MAX_SAFE_INTEGER in base 36 has 11 digits.

/** Default for how far ahead of the local wall clock a remote clock may be. */
export const DEFAULT_MAX_DRIFT_MS = 60_000;

/**
 * Total order of clock readings: ticks first, then node id by code unit.
 * @example [b, a].sort(compareHlc)
 */
export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.ticks !== b.ticks) return a.ticks < b.ticks ? -1 : 1;
  return a.node === b.node ? 0 : a.node < b.node ? -1 : 1;
}

/**
 * Fixed-width string form whose code-unit order equals {@link compareHlc}'s order.
 * @example encodeHlc({ ticks: 1, node: "a" }) // "00000000001-a"
 */
export function encodeHlc(hlc: Hlc): string {
  return `${hlc.ticks.toString(36).padStart(ENCODED_TICKS_WIDTH, "0")}-${hlc.node}`;
}

/**
 * Parses {@link encodeHlc}'s output; a malformed string is a PROTOCOL error.
 * @example decodeHlc("00000000001-a").data // { ticks: 1, node: "a" }
 */
export function decodeHlc(text: unknown): DatabaseResult<Hlc> {
  if (typeof text !== "string" || text.length < ENCODED_TICKS_WIDTH + 2 || text[ENCODED_TICKS_WIDTH] !== "-") {
    return fail("PROTOCOL", `Malformed HLC ${JSON.stringify(text)}: expected 11 base-36 digits, "-", node id.`);
  }
  const digits = text.slice(0, ENCODED_TICKS_WIDTH);
  const node = text.slice(ENCODED_TICKS_WIDTH + 1);
  const ticks = /^[0-9a-z]+$/.test(digits) ? parseInt(digits, 36) : NaN;
  if (!Number.isSafeInteger(ticks) || !isId(node)) {
    return fail("PROTOCOL", `Malformed HLC ${JSON.stringify(text)}.`);
  }
  return ok({ ticks, node });
}

/** Wall-clock milliseconds of a reading (the logical counter dropped). @example hlcMillis(clock.now()) */
export function hlcMillis(hlc: Hlc): number {
  return Math.floor(hlc.ticks / TICKS_PER_MS);
}

/** Options of {@link createClock}. */
export interface ClockOptions {
  /** This replica's id; ties between equal ticks are broken by it. */
  readonly node: string;
  /** Wall clock in milliseconds; injectable for tests. Defaults to `Date.now`. */
  readonly wallClock?: () => number;
  /** Remote readings further ahead of the wall clock than this are refused. Default 60 s. */
  readonly maxDriftMs?: number;
  /** A reading to continue from (e.g. restored from storage), so the clock never goes back. */
  readonly last?: Hlc;
}

/** A Hybrid Logical Clock: monotonic per replica, close to wall time, causal across replicas. */
export interface Clock {
  readonly node: string;
  /** A reading later than every reading this clock has produced or received. */
  now(): Hlc;
  /**
   * Folds a remote reading in, so later local readings sort after it. Refuses readings more
   * than `maxDriftMs` ahead of the local wall clock (CLOCK_DRIFT) and leaves the clock as it was.
   */
  receive(remote: Hlc): DatabaseResult<Hlc>;
  /** The latest reading produced or received. */
  last(): Hlc;
  /**
   * Continues after a reading this replica's storage kept, so readings never go back across
   * restarts. Unlike {@link receive} there is no drift check: the reading is our own.
   */
  restore(reading: Hlc): void;
}

/**
 * Creates a Hybrid Logical Clock.
 * @example
 * const clock = createClock({ node: "client-1" });
 * const stamp = encodeHlc(clock.now());
 */
export function createClock(options: ClockOptions): Clock {
  const { node } = options;
  if (!isId(node)) {
    throw new TypeError(`createClock: node id ${JSON.stringify(node)} must be ${ID_RULE}.`);
  }
  const wallClock = options.wallClock ?? Date.now;
  const maxDriftMs = options.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS;
  let lastTicks = options.last?.ticks ?? 0;

  const wallTicks = () => Math.floor(wallClock()) * TICKS_PER_MS;

  return {
    node,
    now() {
      // A wall clock that jumps backwards cannot move us back: we keep counting from lastTicks.
      lastTicks = Math.max(lastTicks + 1, wallTicks());
      return { ticks: lastTicks, node };
    },
    receive(remote) {
      if (!Number.isSafeInteger(remote.ticks) || remote.ticks < 0 || !isId(remote.node)) {
        return fail("PROTOCOL", `Refused a malformed clock reading ${JSON.stringify(remote)}.`);
      }
      const wall = wallTicks();
      if (remote.ticks - wall > maxDriftMs * TICKS_PER_MS) {
        const aheadMs = Math.round((remote.ticks - wall) / TICKS_PER_MS);
        return fail(
          "CLOCK_DRIFT",
          `Refused a clock reading from "${remote.node}" that is ${aheadMs} ms ahead of this clock ` +
            `(limit ${maxDriftMs} ms). Check the system time of both machines.`,
          { remoteNode: remote.node, aheadMs, maxDriftMs },
        );
      }
      lastTicks = Math.max(lastTicks + 1, remote.ticks + 1, wall);
      return ok({ ticks: lastTicks, node });
    },
    last() {
      return { ticks: lastTicks, node };
    },
    restore(reading) {
      if (Number.isSafeInteger(reading.ticks)) lastTicks = Math.max(lastTicks, reading.ticks);
    },
  };
}
