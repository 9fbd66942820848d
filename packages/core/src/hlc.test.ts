import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  compareHlc,
  createClock,
  decodeHlc,
  DEFAULT_MAX_DRIFT_MS,
  encodeHlc,
  type Hlc,
  hlcMillis,
  TICKS_PER_MS,
} from "./hlc.js";
import { checkLaw } from "./testing/law-seed.js";

// Wall times up to ~year 2200: ticks (ms * 1024 + counter) stay exact doubles.
const MAX_WALL_MS = 7_000_000_000_000;

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
const codeUnitOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const nodeArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);

/** Tick values that straddle every base-36 digit-width boundary, plus arbitrary safe integers. */
const boundaryTicksArb = fc
  .tuple(fc.integer({ min: 1, max: 10 }), fc.integer({ min: -2, max: 2 }))
  .map(([digits, offset]) => Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, 36 ** digits + offset)));
const ticksArb = fc.oneof(
  boundaryTicksArb,
  fc.integer({ min: 0, max: 5000 }),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.integer({ min: Number.MAX_SAFE_INTEGER - 3, max: Number.MAX_SAFE_INTEGER }),
);
const hlcArb: fc.Arbitrary<Hlc> = fc.record({ ticks: ticksArb, node: nodeArb });

/** Pairs that often share ticks (node tiebreak) or nodes. */
const hlcPairArb: fc.Arbitrary<[Hlc, Hlc]> = fc.oneof(
  fc.tuple(hlcArb, hlcArb),
  fc.tuple(ticksArb, nodeArb, nodeArb).map(([ticks, a, b]): [Hlc, Hlc] => [
    { ticks, node: a },
    { ticks, node: b },
  ]),
  fc.tuple(ticksArb, fc.integer({ min: -40, max: 40 }), nodeArb).map(([ticks, delta, node]): [Hlc, Hlc] => [
    { ticks, node },
    { ticks: Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, ticks + delta)), node },
  ]),
);

/** One step of a clock's life: the wall clock moves (maybe backwards), then the clock is used. */
type Step =
  | { readonly kind: "now"; readonly wallDelta: number }
  | {
      readonly kind: "receive";
      readonly wallDelta: number;
      readonly remoteOffsetMs: number;
      readonly counter: number;
      readonly node: string;
    };

const wallDeltaArb = fc.oneof(
  fc.constant(0),
  fc.integer({ min: -5, max: 5 }),
  fc.integer({ min: -10_000_000, max: 10_000_000 }), // NTP corrections, suspend/resume, manual changes
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("now" as const), wallDelta: wallDeltaArb }),
  fc.record({
    kind: fc.constant("receive" as const),
    wallDelta: wallDeltaArb,
    // Remote readings from far behind up to the edge of the allowed drift.
    remoteOffsetMs: fc.integer({ min: -1_000_000, max: DEFAULT_MAX_DRIFT_MS - 1 }),
    counter: fc.integer({ min: 0, max: TICKS_PER_MS - 1 }),
    node: nodeArb,
  }),
);

function manualWallClock(start: number) {
  let wall = start;
  return {
    read: () => wall,
    move: (delta: number) => {
      wall = Math.max(0, Math.min(MAX_WALL_MS, wall + delta));
    },
  };
}

describe("HLC laws", () => {
  it("only moves forward, whatever the wall clock does", () => {
    checkLaw(
      fc.property(
        fc.integer({ min: 0, max: MAX_WALL_MS }),
        nodeArb,
        fc.array(stepArb, { maxLength: 60 }),
        (start, node, steps) => {
          const wall = manualWallClock(start);
          const clock = createClock({ node, wallClock: wall.read });
          let previous = clock.last();
          for (const step of steps) {
            wall.move(step.wallDelta);
            let reading: Hlc;
            if (step.kind === "now") {
              reading = clock.now();
              // Close to wall time: never behind the wall clock's current millisecond.
              expect(reading.ticks).toBeGreaterThanOrEqual(wall.read() * TICKS_PER_MS);
            } else {
              const remote = {
                ticks: Math.max(0, (wall.read() + step.remoteOffsetMs) * TICKS_PER_MS + step.counter),
                node: step.node,
              };
              const received = clock.receive(remote);
              expect(received.error).toBeUndefined();
              reading = received.data!;
            }
            expect(reading.node).toBe(node);
            expect(compareHlc(reading, previous)).toBe(1);
            expect(encodeHlc(reading) > encodeHlc(previous)).toBe(true);
            expect(clock.last()).toEqual(reading);
            previous = reading;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("reads later than both the remote reading and its own previous reading after receive", () => {
    checkLaw(
      fc.property(
        fc.integer({ min: 0, max: MAX_WALL_MS }),
        nodeArb,
        nodeArb,
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: -5_000_000, max: DEFAULT_MAX_DRIFT_MS }),
        fc.integer({ min: 0, max: TICKS_PER_MS - 1 }),
        (wallMs, localNode, remoteNode, localStamps, remoteOffsetMs, counter) => {
          const clock = createClock({ node: localNode, wallClock: () => wallMs });
          for (let i = 0; i < localStamps; i++) clock.now();
          const before = clock.last();
          // Exactly at the drift limit counts as allowed; the counter may push it past in ticks.
          const extra = remoteOffsetMs === DEFAULT_MAX_DRIFT_MS ? 0 : counter;
          const remote = { ticks: Math.max(0, (wallMs + remoteOffsetMs) * TICKS_PER_MS + extra), node: remoteNode };
          const received = clock.receive(remote);
          expect(received.error).toBeUndefined();
          const reading = received.data!;
          expect(reading.ticks).toBeGreaterThan(remote.ticks);
          expect(compareHlc(reading, remote)).toBe(1);
          expect(compareHlc(reading, before)).toBe(1);
          // And everything stamped afterwards sorts after the remote reading too.
          const next = clock.now();
          expect(encodeHlc(next) > encodeHlc(remote)).toBe(true);
          expect(encodeHlc(next) > encodeHlc(reading)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("orders encoded strings exactly as compareHlc orders readings", () => {
    checkLaw(
      fc.property(hlcPairArb, ([a, b]) => {
        expect(codeUnitOrder(encodeHlc(a), encodeHlc(b))).toBe(sign(compareHlc(a, b)));
        expect(sign(compareHlc(a, b)) + sign(compareHlc(b, a))).toBe(0);
        expect(compareHlc(a, b) === 0).toBe(a.ticks === b.ticks && a.node === b.node);
      }),
      { numRuns: 3000 },
    );
  });

  it("sorts a list of encoded readings into compareHlc order", () => {
    checkLaw(
      fc.property(fc.array(hlcArb, { maxLength: 40 }), (readings) => {
        const byCompare = [...readings].sort(compareHlc).map(encodeHlc);
        const byString = readings.map(encodeHlc).sort();
        expect(byString).toEqual(byCompare);
      }),
      { numRuns: 500 },
    );
  });

  it("orders across base-36 digit-width boundaries and breaks tick ties by node", () => {
    const widths: Array<[number, number]> = [
      [35, 36],
      [1295, 1296],
      [36 ** 3 - 1, 36 ** 3],
      [36 ** 6 - 1, 36 ** 6],
      [36 ** 10 - 1, 36 ** 10],
      [9, 10],
      [0, 1],
      [Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER],
      [1_700_000_000_000 * TICKS_PER_MS, 1_700_000_000_000 * TICKS_PER_MS + 1],
    ];
    for (const [low, high] of widths) {
      const a = { ticks: low, node: "zzz" };
      const b = { ticks: high, node: "A" };
      expect(compareHlc(a, b)).toBe(-1);
      expect(encodeHlc(a) < encodeHlc(b)).toBe(true);
      // Fixed width: 11 digits, "-", node id, whatever the magnitude.
      expect(encodeHlc(a)).toHaveLength(12 + a.node.length);
      expect(encodeHlc(b)).toHaveLength(12 + b.node.length);
    }
    const ties: Array<[string, string]> = [
      ["A", "a"],
      ["a", "ab"],
      ["Z", "_"],
      ["-", "0"],
      ["9", "A"],
      ["_", "a"],
      ["node", "node-2"],
    ];
    for (const [low, high] of ties) {
      const a = { ticks: 1296, node: low };
      const b = { ticks: 1296, node: high };
      expect(compareHlc(a, b)).toBe(-1);
      expect(encodeHlc(a) < encodeHlc(b)).toBe(true);
    }
    expect(encodeHlc({ ticks: 35, node: "a" })).toBe("0000000000z-a");
    expect(encodeHlc({ ticks: 36, node: "a" })).toBe("00000000010-a");
  });

  it("round-trips every reading through encode and decode", () => {
    checkLaw(
      fc.property(hlcArb, (hlc) => {
        const decoded = decodeHlc(encodeHlc(hlc));
        expect(decoded.error).toBeUndefined();
        expect(decoded.data).toEqual(hlc);
      }),
      { numRuns: 2000 },
    );
  });

  it("never wraps its counter: many readings in one millisecond keep increasing", () => {
    checkLaw(
      fc.property(
        fc.integer({ min: 0, max: MAX_WALL_MS }),
        fc.integer({ min: 1, max: 5 * TICKS_PER_MS }),
        (wallMs, count) => {
          const clock = createClock({ node: "burst", wallClock: () => wallMs });
          let previous = clock.now();
          const first = previous;
          for (let i = 1; i < count; i++) {
            const reading = clock.now();
            if (!(reading.ticks > previous.ticks) || !(encodeHlc(reading) > encodeHlc(previous))) {
              expect.fail(`reading ${i} (${encodeHlc(reading)}) is not after ${encodeHlc(previous)}`);
            }
            previous = reading;
          }
          // The counter carried into later milliseconds instead of wrapping back to wall time.
          expect(previous.ticks - first.ticks).toBe(count - 1);
          expect(hlcMillis(previous)).toBe(wallMs + Math.floor((count - 1) / TICKS_PER_MS));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("keeps counting past the counter range when the wall clock stands still", () => {
    const clock = createClock({ node: "n", wallClock: () => 1_000 });
    const readings = Array.from({ length: 3 * TICKS_PER_MS + 5 }, () => clock.now());
    for (let i = 1; i < readings.length; i++) expect(readings[i]!.ticks).toBe(readings[i - 1]!.ticks + 1);
    expect(hlcMillis(readings.at(-1)!)).toBe(1_003);
  });

  it("refuses remote readings too far ahead with CLOCK_DRIFT and leaves the clock unchanged", () => {
    checkLaw(
      fc.property(
        fc.integer({ min: 0, max: MAX_WALL_MS }),
        fc.option(fc.integer({ min: 0, max: 3_600_000 }), { nil: undefined }),
        fc.integer({ min: 1, max: 50_000_000 }),
        fc.integer({ min: 0, max: 20 }),
        nodeArb,
        (wallMs, maxDriftMs, excessTicks, localStamps, remoteNode) => {
          const limit = maxDriftMs ?? DEFAULT_MAX_DRIFT_MS;
          const clock = createClock({
            node: "local",
            wallClock: () => wallMs,
            ...(maxDriftMs === undefined ? {} : { maxDriftMs }),
          });
          for (let i = 0; i < localStamps; i++) clock.now();
          const before = clock.last();
          const remote = { ticks: (wallMs + limit) * TICKS_PER_MS + excessTicks, node: remoteNode };
          const result = clock.receive(remote);
          expect(result.data).toBeUndefined();
          expect(result.error?.code).toBe("CLOCK_DRIFT");
          expect(result.error?.message).toContain(remoteNode);
          expect(clock.last()).toEqual(before);
          // The next local reading is what it would have been without the bad remote one.
          const twin = createClock({ node: "local", wallClock: () => wallMs, last: before });
          expect(clock.now()).toEqual(twin.now());
        },
      ),
      { numRuns: 300 },
    );
  });

  it("accepts a remote reading exactly at the drift limit", () => {
    const wallMs = 1_700_000_000_000;
    const clock = createClock({ node: "local", wallClock: () => wallMs });
    const atLimit = { ticks: (wallMs + DEFAULT_MAX_DRIFT_MS) * TICKS_PER_MS, node: "remote" };
    expect(clock.receive({ ...atLimit, ticks: atLimit.ticks + 1 }).error?.code).toBe("CLOCK_DRIFT");
    const accepted = clock.receive(atLimit);
    expect(accepted.error).toBeUndefined();
    expect(accepted.data!.ticks).toBe(atLimit.ticks + 1);
  });

  it("continues after a restored reading", () => {
    checkLaw(
      fc.property(
        hlcArb.filter((h) => h.ticks < Number.MAX_SAFE_INTEGER - 10),
        fc.integer({ min: 0, max: MAX_WALL_MS }),
        (last, wallMs) => {
          const clock = createClock({ node: "restored", wallClock: () => wallMs, last });
          expect(clock.now().ticks).toBeGreaterThan(last.ticks);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("rejects node ids outside [A-Za-z0-9_-]{1,64}", () => {
    for (const node of ["", "a b", "é", "a".repeat(65), "a/b", "a.b"]) {
      expect(() => createClock({ node })).toThrow(TypeError);
    }
    expect(createClock({ node: "a".repeat(64) }).node).toHaveLength(64);
  });
});

describe("decodeHlc", () => {
  const CANONICAL = /^[0-9a-z]{11}-[A-Za-z0-9_-]{1,64}$/;

  it("accepts exactly the canonical encodings and rejects everything else with PROTOCOL", () => {
    const nearlyValid = fc
      .tuple(
        hlcArb,
        fc.nat(),
        fc.string({ unit: "binary", maxLength: 3 }),
        fc.constantFrom("insert", "delete", "replace"),
      )
      .map(([hlc, at, junk, how]) => {
        const text = encodeHlc(hlc);
        const position = at % (text.length + 1);
        if (how === "delete") return text.slice(0, position) + text.slice(position + 1);
        if (how === "insert") return text.slice(0, position) + junk + text.slice(position);
        return text.slice(0, position) + junk + text.slice(position + junk.length);
      });
    checkLaw(
      fc.property(
        fc.oneof(nearlyValid, fc.string({ maxLength: 20 }), fc.stringMatching(/^[0-9a-zA-Z]{9,13}-[ -~]{0,4}$/)),
        (text) => {
          const result = decodeHlc(text);
          const digits = text.slice(0, 11);
          const isCanonical = CANONICAL.test(text) && Number.isSafeInteger(parseInt(digits, 36));
          if (isCanonical) {
            expect(result.error).toBeUndefined();
            expect(encodeHlc(result.data!)).toBe(text);
          } else {
            expect(result.data).toBeUndefined();
            expect(result.error?.code).toBe("PROTOCOL");
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("rejects malformed strings and non-strings with PROTOCOL errors", () => {
    const malformed: unknown[] = [
      "",
      "-",
      "abc",
      "0000000001-a", // 10 digits
      "000000000001-a", // 12 digits
      "00000000001a", // no separator
      "00000000001-", // empty node
      "00000000001_a", // wrong separator
      "0000000000A-a", // uppercase digit
      "+0000000001-a",
      " 0000000001-a",
      "0000000000.-a",
      "00000000001-a b",
      "00000000001-é",
      `00000000001-${"a".repeat(65)}`,
      "zzzzzzzzzzz-a", // beyond Number.MAX_SAFE_INTEGER
      "2gosa7pa2gw-a", // Number.MAX_SAFE_INTEGER + 1
      undefined,
      null,
      42,
      { ticks: 1, node: "a" },
      ["00000000001-a"],
    ];
    for (const text of malformed) {
      const result = decodeHlc(text);
      expect(result.error?.code, `decodeHlc(${JSON.stringify(text)})`).toBe("PROTOCOL");
      expect(result.data).toBeUndefined();
    }
    expect(decodeHlc("2gosa7pa2gv-a").data).toEqual({ ticks: Number.MAX_SAFE_INTEGER, node: "a" });
  });
});
