import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { createClient } from "../create-client.js";
import { createMemoryStorage } from "../persistence/memory-storage.js";
import type { ClientStorage } from "../persistence/storage.js";
import { recorder, waitFor } from "../testing/live-server.js";
import type { MapEntry } from "./map-types.js";

// Maps are triples of the store, so they are kept wherever the client keeps its data.

const schema = createSchema({ entities: { notes: { text: t.string({ fallback: "" }) } } });
const open = (storage: ClientStorage) => createClient({ schema, appId: "maps", storage });

describe("key-value maps with storage", () => {
  it("finds its entries and removals again after a reload", async () => {
    const storage = createMemoryStorage();
    const first = open(storage);
    await first.map("prefs").set("theme", "dark");
    await first.map("prefs").set("font", { size: 14 });
    await first.map("prefs").remove("theme");
    await first.close();
    const second = open(storage);
    const calls = recorder<readonly MapEntry<unknown>[]>();
    second.map("prefs").subscribe(calls.callback);
    expect(calls.calls[0]).toEqual({ data: undefined, error: undefined, loading: true });
    expect(await second.storage.ready).toEqual({ data: undefined, error: undefined });
    await waitFor(() => calls.last?.loading === false, "the stored entries arrive");
    expect(calls.last?.data).toEqual([["font", { size: 14 }]]);
    expect(second.map("prefs").get("theme")).toBeUndefined();
    await second.close();
  });

  it("applies a set made before the stored data is in after it, so the set wins", async () => {
    const storage = createMemoryStorage();
    const first = open(storage);
    await first.map("prefs").set("theme", "dark");
    await first.close();
    const second = open(storage);
    const setting = second.map("prefs").set("theme", "light");
    expect((await setting).error).toBeUndefined();
    expect(second.map("prefs").get("theme")).toBe("light");
    await second.close();
    const third = open(storage);
    await third.storage.ready;
    expect(third.map("prefs").entries()).toEqual([["theme", "light"]]);
    await third.close();
  });
});
