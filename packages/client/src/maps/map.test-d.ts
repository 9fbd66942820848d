import { createSchema, type DatabaseResult, t } from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import { createClient } from "../create-client.js";
import type { KeyValueMap, MapEntry } from "../index.js";
import type { Subscription } from "../types.js";

const schema = createSchema({ entities: { notes: { text: t.string({ fallback: "" }) } } });
const client = createClient({ schema });

interface Prefs {
  theme: "dark" | "light";
  fontSize?: number;
}

describe("key-value map types", () => {
  it("defaults the value type to unknown", () => {
    const map = client.map("anything");
    expectTypeOf(map).toEqualTypeOf<KeyValueMap<unknown>>();
    expectTypeOf(map.get("k")).toEqualTypeOf<unknown>();
    expectTypeOf(map.entries()).toEqualTypeOf<Array<[key: string, value: unknown]>>();
  });

  it("flows the value type into get, set, entries and subscribe", () => {
    const prefs = client.map<Prefs>("prefs");
    expectTypeOf(prefs.get("alice")).toEqualTypeOf<Prefs | undefined>();
    expectTypeOf(prefs.set).parameters.toEqualTypeOf<[key: string, value: Prefs]>();
    expectTypeOf(prefs.set("alice", { theme: "dark" })).toEqualTypeOf<Promise<DatabaseResult<void>>>();
    expectTypeOf(prefs.remove("alice")).toEqualTypeOf<Promise<DatabaseResult<void>>>();
    expectTypeOf(prefs.entries()).toEqualTypeOf<Array<[key: string, value: Prefs]>>();
    const subscription = prefs.subscribe((entries, error, loading) => {
      expectTypeOf(entries).toEqualTypeOf<readonly MapEntry<Prefs>[] | undefined>();
      expectTypeOf(loading).toEqualTypeOf<boolean>();
      expectTypeOf(error).toEqualTypeOf<DatabaseResult<never>["error"] | undefined>();
    });
    expectTypeOf(subscription).toEqualTypeOf<Subscription<readonly MapEntry<Prefs>[]>>();
    expectTypeOf(subscription.getCurrentState().data).toEqualTypeOf<readonly MapEntry<Prefs>[] | undefined>();
  });

  it("refuses values and keys of the wrong type", () => {
    const counts = client.map<number>("counts");
    // @ts-expect-error a string is not a number
    void counts.set("k", "one");
    // @ts-expect-error keys are strings
    void counts.set(1, 1);
    // @ts-expect-error map names are strings
    client.map(1);
  });
});
