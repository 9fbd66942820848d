import { describe, expect, it } from "vitest";
import { PRELOAD_FORMAT } from "./preload.js";
import { queryKey } from "./query-key.js";

describe("queryKey", () => {
  it("gives equal queries equal keys, whatever their identity", () => {
    expect(queryKey({ where: { done: false }, orderBy: ["title", "asc"] })).toBe(
      queryKey({ where: { done: false }, orderBy: ["title", "asc"] }),
    );
    expect(queryKey(undefined)).toBe(queryKey({}));
    expect(queryKey({ where: { done: false, title: undefined } })).toBe(queryKey({ where: { done: false } }));
  });

  it("tells apart Dates by instant, and a Date from its ISO string", () => {
    expect(queryKey({ where: { at: new Date(0) } })).toBe(queryKey({ where: { at: new Date(0) } }));
    expect(queryKey({ where: { at: new Date(0) } })).not.toBe(queryKey({ where: { at: new Date(1) } }));
    expect(queryKey({ where: { at: new Date(0) } })).not.toBe(queryKey({ where: { at: new Date(0).toISOString() } }));
  });

  it("keys preloaded data by identity", () => {
    const preloaded = { format: PRELOAD_FORMAT, kind: "many", data: [] };
    expect(queryKey(preloaded)).toBe(queryKey(preloaded));
    expect(queryKey(preloaded)).not.toBe(queryKey({ ...preloaded }));
  });
});
