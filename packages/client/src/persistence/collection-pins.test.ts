import { describe, expect, it } from "vitest";
import { CollectionPins } from "./collection-pins.js";

describe("collection pins", () => {
  it("keeps a collection pinned until its last pin is released, once each", () => {
    let releases = 0;
    const pins = new CollectionPins(() => releases++);
    const first = pins.pin(["a", "b"]);
    const second = pins.pin(["a"]);
    first();
    first();
    expect(releases).toBe(1);
    expect(pins.pinned()).toEqual(["a"]);
    second();
    expect(pins.isPinned("a")).toBe(false);
    expect(releases).toBe(2);
  });

  it("keeps a collection whole only while a whole pin holds it", () => {
    const pins = new CollectionPins(() => {});
    const followed = pins.pin(["a"]);
    const read = pins.pin(["a"], true);
    expect(pins.isPinnedWhole("a")).toBe(true);
    read();
    expect([pins.isPinned("a"), pins.isPinnedWhole("a")]).toEqual([true, false]);
    followed();
  });

  it("keeps the collections a part keeps whole whole, without pinning them, until it releases", () => {
    const pins = new CollectionPins(() => {});
    const release = pins.keepWhole((collection) => collection.startsWith("__map_"));
    expect([pins.isKeptWhole("__map_prefs"), pins.isPinnedWhole("__map_prefs"), pins.isKeptWhole("todos")]).toEqual([
      true,
      true,
      false,
    ]);
    expect(pins.isPinned("__map_prefs")).toBe(false);
    release();
    release();
    expect(pins.isPinnedWhole("__map_prefs")).toBe(false);
  });
});
