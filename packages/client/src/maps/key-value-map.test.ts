import { createSchema, t } from "@trellis/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createClient } from "../create-client.js";

const schema = createSchema({ entities: { notes: { text: t.string({ fallback: "" }) } } });

type Call = { data: unknown; error: unknown; loading: boolean; hasSynced: boolean };

function recorder() {
  const calls: Call[] = [];
  return {
    calls,
    callback: (data: unknown, error: unknown, loading: boolean, hasSynced: boolean) =>
      void calls.push({ data, error, loading, hasSynced }),
  };
}

const local = () => createClient({ schema, clientId: "local" });

afterEach(() => {
  vi.restoreAllMocks();
});

describe("client.map: local reads and writes", () => {
  it("sets, gets and removes values", async () => {
    const prefs = local().map("prefs");
    expect(prefs.get("theme")).toBeUndefined();
    expect(await prefs.set("theme", "dark")).toEqual({ data: undefined, error: undefined });
    expect(prefs.get("theme")).toBe("dark");
    await prefs.set("theme", "light");
    expect(prefs.get("theme")).toBe("light");
    expect(await prefs.remove("theme")).toEqual({ data: undefined, error: undefined });
    expect(prefs.get("theme")).toBeUndefined();
    expect(prefs.entries()).toEqual([]);
  });

  it("brings a removed key back with a later set", async () => {
    const prefs = local().map("prefs");
    await prefs.set("k", 1);
    await prefs.remove("k");
    await prefs.set("k", 2);
    expect(prefs.get("k")).toBe(2);
    expect(prefs.entries()).toEqual([["k", 2]]);
  });

  it("lists entries in key order, skipping removed keys", async () => {
    const map = local().map("m");
    for (const key of ["b", "a", "c", "B", "10", "9"]) await map.set(key, key.length);
    await map.remove("c");
    expect(map.entries().map(([key]) => key)).toEqual(["10", "9", "B", "a", "b"]);
  });

  it("stores every kind of JSON value, as copies", async () => {
    const map = local().map("m");
    const value = { list: [1, "two", true, null, { deep: [] }], n: -0.5 };
    await map.set("obj", value);
    value.list.push("later");
    expect(map.get("obj")).toEqual({ list: [1, "two", true, null, { deep: [] }], n: -0.5 });
    (map.get("obj") as { n: number }).n = 99;
    expect((map.get("obj") as { n: number }).n).toBe(-0.5);
    for (const scalar of ["", 0, false, [], {}]) {
      await map.set("scalar", scalar);
      expect(map.get("scalar")).toEqual(scalar);
    }
  });

  it("keeps maps apart from each other and from the database", async () => {
    const client = local();
    await client.map("a").set("k", "in a");
    await client.map("b").set("k", "in b");
    expect(client.map("a").get("k")).toBe("in a");
    expect(client.map("b").get("k")).toBe("in b");
    expect((await client.database.notes.query({})).data).toEqual([]);
  });

  it("gives the same handle for the same name", () => {
    const client = local();
    expect(client.map("prefs")).toBe(client.map("prefs"));
    expect(client.map("prefs")).not.toBe(client.map("other"));
    expect(client.map("prefs").name).toBe("prefs");
  });
});

describe("client.map: validation", () => {
  it.each([
    ["an empty key", ""],
    ["a key over 256 characters", "k".repeat(257)],
    ["a non-string key", 42],
    ["a key with a lone surrogate", "a\uD800b"],
  ])("refuses %s with a VALIDATION result from set and remove", async (_, key) => {
    const map = local().map("m");
    const set = await map.set(key as string, 1);
    expect(set.error?.code).toBe("VALIDATION");
    expect(set.error?.message).toContain("key");
    expect((await map.remove(key as string)).error?.code).toBe("VALIDATION");
    expect(map.entries()).toEqual([]);
  });

  it("accepts any well-formed key up to 256 characters", async () => {
    const map = local().map("m");
    for (const key of ["k".repeat(256), "with space/and:punctuation", "ünïcödé 🎉", "__proto__", "constructor"]) {
      expect((await map.set(key, key)).error).toBeUndefined();
      expect(map.get(key)).toBe(key);
    }
  });

  it.each([
    ["null", null, "remove(key)"],
    ["undefined", undefined, "remove(key)"],
    ["a Date", new Date(0), "JSON"],
    ["NaN", Number.NaN, "JSON"],
    ["Infinity", Number.POSITIVE_INFINITY, "JSON"],
    ["a function", () => 1, "JSON"],
    ["a Map", new Map(), "JSON"],
    ["a class instance", new (class Point {})(), "JSON"],
    ["an object with a Date inside", { at: new Date(0) }, "JSON"],
    ["a bigint", 1n, "JSON"],
  ])("refuses %s as a value with a VALIDATION result", async (_, value, hint) => {
    const map = local().map("m");
    const result = await map.set("k", value);
    expect(result.error?.code).toBe("VALIDATION");
    expect(result.error?.message).toContain(hint);
    expect(map.get("k")).toBeUndefined();
  });

  it("refuses a value over 512 KiB as JSON", async () => {
    const map = local().map("m");
    expect((await map.set("big", "x".repeat(512 * 1024 - 2))).error).toBeUndefined();
    const tooBig = await map.set("big", "x".repeat(512 * 1024));
    expect(tooBig.error?.code).toBe("VALIDATION");
    expect(tooBig.error?.message).toContain("limit");
  });

  it.each(["", "has-dash", "has space", "x".repeat(65), 7, undefined])(
    "throws a TypeError for the bad map name %j",
    (name) => {
      expect(() => local().map(name as string)).toThrow(TypeError);
    },
  );

  it("throws a TypeError for a non-string key to get and a missing subscribe callback", () => {
    const map = local().map("m");
    expect(() => map.get(1 as unknown as string)).toThrow(TypeError);
    expect(() => map.subscribe(undefined as never)).toThrow(TypeError);
  });

  it("refuses a schema whose entity or room would take a map's reserved collection", () => {
    expect(() => createSchema({ entities: { __map_prefs: { text: t.string({ fallback: "" }) } } })).toThrow(/reserved/);
    expect(() => createSchema({ entities: {}, rooms: { __map_prefs: {} } })).toThrow(/reserved/);
  });

  it("throws after close()", async () => {
    const client = local();
    const map = client.map("m");
    await client.close();
    expect(() => map.get("k")).toThrow(/after close/);
    expect(() => map.set("k", 1)).toThrow(/after close/);
    expect(() => client.map("m")).toThrow(/after close/);
  });
});

describe("client.map: subscribe", () => {
  it("calls back at once with the entries and loading false on a local client", async () => {
    const map = local().map("m");
    await map.set("a", 1);
    const { calls, callback } = recorder();
    const subscription = map.subscribe(callback);
    expect(calls).toEqual([{ data: [["a", 1]], error: undefined, loading: false, hasSynced: false }]);
    expect(subscription.getCurrentState()).toEqual({
      data: [["a", 1]],
      error: undefined,
      loading: false,
      hasSynced: false,
    });
  });

  it("calls back in the same tick on a change, and only when the entries changed", async () => {
    const client = local();
    const map = client.map("m");
    const { calls, callback } = recorder();
    map.subscribe(callback);
    expect(calls).toHaveLength(1);
    void map.set("a", 1);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.data).toEqual([["a", 1]]);
    await map.set("a", 1); // same value: the entries did not change
    await map.remove("missing"); // nothing to remove
    await client.map("other").set("a", 2); // another map
    await client.database.notes.create({ text: "x" });
    expect(calls).toHaveLength(2);
    await map.set("b", { x: 1 });
    await map.remove("a");
    expect(calls.map((call) => call.data)).toEqual([
      [],
      [["a", 1]],
      [
        ["a", 1],
        ["b", { x: 1 }],
      ],
      [["b", { x: 1 }]],
    ]);
  });

  it("stops calling back after unsubscribe and after close", async () => {
    const client = local();
    const map = client.map("m");
    const first = recorder();
    const second = recorder();
    map.subscribe(first.callback).unsubscribe();
    map.subscribe(second.callback);
    await map.set("a", 1);
    expect(first.calls).toHaveLength(1);
    expect(second.calls).toHaveLength(2);
    await client.close();
    expect(second.calls).toHaveLength(2);
  });

  it("reports a throwing callback without breaking the write", async () => {
    const map = local().map("m");
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    let count = 0;
    map.subscribe(() => {
      count++;
      if (count > 1) throw new Error("boom");
    });
    expect((await map.set("a", 1)).error).toBeUndefined();
    expect(map.get("a")).toBe(1);
    expect(errors).toHaveBeenCalledOnce();
  });
});
