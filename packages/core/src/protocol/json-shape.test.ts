import { describe, expect, it } from "vitest";
import { containersOf, jsonShape, jsonShapeProblem } from "./json-shape.js";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("jsonShape", () => {
  it("counts arrays and objects outside strings, the same from text and from bytes", () => {
    const cases: Array<[string, number]> = [
      ['{"a":[1,{"b":2}]}', 3],
      ['["[{", "}]", {"k[": "{"}]', 2],
      ['["\\"[", "\\\\", []]', 2],
      ['{"é😀": ["[", {}]}', 3],
      ["42", 0],
    ];
    for (const [text, containers] of cases) {
      expect(jsonShape(text), text).toEqual({ containers, isTooDeep: false });
      expect(jsonShape(bytes(text)), text).toEqual({ containers, isTooDeep: false });
      expect(containersOf(JSON.parse(text)), text).toBe(containers);
    }
  });

  it("stops at the first limit passed and says which", () => {
    expect(jsonShapeProblem("[[[1]]]", 3)).toBeUndefined();
    expect(jsonShapeProblem("[[[[1]]]]", 3)).toBe("nests deeper than 3 levels");
    expect(jsonShapeProblem(bytes("[[],[],[]]"), 10, 3)).toBe("holds more than 3 arrays and objects");
    expect(jsonShape("[".repeat(1_000_000), 256)).toEqual({ containers: 256, isTooDeep: true });
    // Brackets in a string nest nothing, however many.
    expect(jsonShapeProblem(JSON.stringify(["[".repeat(10_000)]), 2, 2)).toBeUndefined();
    expect(
      containersOf(
        Array.from({ length: 10 }, () => []),
        5,
      ),
    ).toBe(6);
  });
});
