import { describe, expect, it } from "vitest";
import { RangeIndex } from "./indexes.js";

function rangeIndexOver(values: readonly unknown[]): RangeIndex {
  return new RangeIndex(
    () => values.map((_, row) => row),
    (row) => values[row],
  );
}

describe("RangeIndex", () => {
  it("finds every row in range when some stored values are NaN", () => {
    // Regression: NaN made the sort comparator inconsistent, so binary search skipped rows.
    const values = [5, Number.NaN, 3, 9, Number.NaN, 1, 7, 2, Number.NaN, 8, 4, 6, "text", Number.POSITIVE_INFINITY];
    const index = rangeIndexOver(values);
    const rowsAbove4 = index.lookup({ lower: 4 }).sort((a, b) => a - b);
    expect(rowsAbove4.map((row) => values[row])).toEqual([5, 9, 7, 8, 6, Number.POSITIVE_INFINITY]);
    expect(index.count({ lower: 4 })).toBe(6);
    expect(index.lookup({ lower: 2, lowerInclusive: true, upper: 5 }).map((row) => values[row])).toEqual([2, 3, 4]);
    expect(index.lookup({ upper: "u" }).map((row) => values[row])).toEqual(["text"]);
  });

  it("returns rows in value order, numbers and strings apart", () => {
    const values = [3, "b", 1, undefined, "a", 2, true, null, -1];
    const index = rangeIndexOver(values);
    expect(index.lookup({ lower: -10 }).map((row) => values[row])).toEqual([-1, 1, 2, 3]);
    expect(index.lookup({ lower: "", lowerInclusive: true }).map((row) => values[row])).toEqual(["a", "b"]);
  });
});
