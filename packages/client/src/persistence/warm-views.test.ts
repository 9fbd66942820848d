import { createSchema, LiveQueryRegistry, normalizeQuery, t, TripleStore } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { WarmViews } from "./warm-views.js";

const items = createSchema({ entities: { items: { n: t.number({ fallback: 0 }) } } }).collections.items!;

describe("WarmViews", () => {
  it("keeps views after their subscribers left, releases the oldest beyond its size, and hands one back when reused", () => {
    const registry = new LiveQueryRegistry(new TripleStore());
    const warm = new WarmViews(registry, 2);
    const query = (n: number) => normalizeQuery(items, { where: { n } }).data!;
    const views = [0, 1, 2].map((n) => registry.acquire(query(n)));
    for (const view of views) warm.keep(view);
    // The oldest went; the other two are still maintained.
    expect(registry.liveQuery(query(0))).toBeUndefined();
    expect(registry.liveQuery(query(1))).toBe(views[1]);
    // Reused: the subscriber's reference is the only one left.
    const again = registry.acquire(query(1));
    warm.reused(again);
    registry.release(again);
    expect(registry.liveQuery(query(1))).toBeUndefined();
    expect(warm.releaseOldest()).toBe(true);
    expect(registry.liveQuery(query(2))).toBeUndefined();
    expect(warm.releaseOldest()).toBe(false);
  });
});
