import { describe, expect, it } from "vitest";
import { generateId } from "./generate-id.js";

describe("generateId", () => {
  it("makes 21-character URL-safe ids without repeats", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = generateId();
      expect(id).toMatch(/^[A-Za-z0-9_-]{21}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(10_000);
  });

  it("uses the whole alphabet", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) for (const char of generateId()) seen.add(char);
    expect(seen.size).toBe(64);
  });
});
