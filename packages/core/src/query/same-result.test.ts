import { describe, expect, it } from "vitest";
import { resultComparer, sameResult } from "./same-result.js";

type Node = { id: string; at: Date; links: Node[] };

/**
 * `depth` levels of two documents each linking both documents of the next level: a DAG of
 * 2 × depth objects that unfolds to a tree of about 2^(depth+1). Reads of `links` are counted.
 */
function ladder(depth: number, leafAt = 0): { roots: Node[]; reads: () => number } {
  let reads = 0;
  let level: Node[] = [];
  for (let i = depth - 1; i >= 0; i--) {
    const next = level;
    level = ["x", "y"].map((name) => {
      const node = { id: `${name}${i}`, at: new Date(i === depth - 1 ? leafAt : i) } as Node;
      Object.defineProperty(node, "links", {
        enumerable: true,
        get: () => {
          reads++;
          return next;
        },
      });
      return node;
    });
  }
  return { roots: level, reads: () => reads };
}

describe("sameResult", () => {
  it("compares results as users read them", () => {
    expect(sameResult([{ at: new Date(1), tags: ["a"] }], [{ at: new Date(1), tags: ["a"] }])).toBe(true);
    expect(sameResult([{ at: new Date(1) }], [{ at: new Date(2) }])).toBe(false);
    expect(sameResult({ a: undefined, b: 1 }, { b: 1 })).toBe(true);
    expect(sameResult({ b: 1 }, { a: 2, b: 1 })).toBe(false);
    expect(sameResult([1, 2], [1, 2, 3])).toBe(false);
    expect(sameResult(undefined, [])).toBe(false);
    expect(sameResult(new Date(0), 0)).toBe(false);
    expect(sameResult({ tags: [] }, { tags: {} })).toBe(false);
    expect(sameResult({ when: { at: new Date(5) } }, { when: { at: new Date(5) } })).toBe(true);
  });

  it("compares results that share documents once per pair of objects", () => {
    const a = ladder(40);
    const b = ladder(40);
    expect(sameResult(a.roots, b.roots)).toBe(true);
    // Unfolded, each side is a tree of 2^41 documents; each pair of shared objects is read once.
    expect(a.reads()).toBeLessThanOrEqual(2 * 40);
    expect(b.reads()).toBeLessThanOrEqual(2 * 40);
  });

  it("finds a difference deep in shared documents, Dates compared by instant", () => {
    const a = ladder(40, 7);
    const b = ladder(40, 8);
    expect(sameResult(a.roots, b.roots)).toBe(false);
    expect(a.reads()).toBeLessThanOrEqual(2 * 40);
    expect(sameResult(ladder(40, 7).roots, ladder(40, 7).roots)).toBe(true);
  });

  it("equals a shared result and the same documents unshared", () => {
    const shared = { id: "t1", name: "red" };
    const a = [
      { id: "p1", tags: [shared] },
      { id: "p2", tags: [shared] },
    ];
    const b = [
      { id: "p1", tags: [{ id: "t1", name: "red" }] },
      { id: "p2", tags: [{ id: "t1", name: "red" }] },
    ];
    expect(sameResult(a, b)).toBe(true);
    expect(sameResult(a, [b[0], { id: "p2", tags: [{ id: "t1", name: "blue" }] }])).toBe(false);
  });
});

describe("resultComparer", () => {
  it("remembers pairs across calls, unequal ones included, without mixing them up", () => {
    const same = resultComparer();
    const red = { name: "red" };
    const blue = { name: "blue" };
    const alsoRed = { name: "red" };
    expect(same({ tag: red }, { tag: blue })).toBe(false);
    expect(same({ tag: red }, { tag: alsoRed })).toBe(true);
    expect(same({ tags: [red, red] }, { tags: [alsoRed, blue] })).toBe(false);
    expect(same({ tags: [red, red] }, { tags: [alsoRed, alsoRed] })).toBe(true);
  });
});
