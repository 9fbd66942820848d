import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { allOnline, FAST_RECONNECT, recorder, useServerProcess, waitFor } from "../testing/live-server.js";
import type { MapEntry } from "./map-types.js";

// Key-value maps between clients of a real `trellis-server` process on 127.0.0.1: the server
// knows nothing of maps; it stores and routes the triples of their reserved collections.

const schema = createSchema({ entities: { notes: { text: t.string({ fallback: "" }) } } });
type Client = TrellisClient<typeof schema>;
type Entries = readonly MapEntry<unknown>[];

const live = useServerProcess();

function connect(appId: string, clientId: string, now?: () => number): Client {
  return live.track(
    createClient({
      schema,
      appId,
      clientId,
      serverUrl: live.server.url,
      reconnect: FAST_RECONNECT,
      ...(now ? { now } : {}),
    }),
  );
}

const newApp = () => live.newApp("maps");

describe("key-value maps with a server", () => {
  it("delivers a set on one client to another client's subscription, loading until the server answered", async () => {
    const app = newApp();
    const [a, b] = [connect(app, "a"), connect(app, "b")];
    const seen = recorder<Entries>();
    b.map("prefs").subscribe(seen.callback);
    expect(seen.calls[0]).toEqual({ data: undefined, error: undefined, loading: true });
    await allOnline([b]);
    expect(seen.last).toEqual({ data: [], error: undefined, loading: false });
    expect((await a.map("prefs").set("theme", { mode: "dark" })).error).toBeUndefined();
    await waitFor(() => seen.last?.data?.length === 1, "the set reaches b");
    expect(seen.last?.data).toEqual([["theme", { mode: "dark" }]]);
    expect(b.map("prefs").get("theme")).toEqual({ mode: "dark" });
  });

  it("keeps get and entries fresh without a subscription, and serves existing entries to a new client", async () => {
    const app = newApp();
    const a = connect(app, "a");
    await a.map("m").set("k1", 1);
    await a.map("m").set("k2", 2);
    await allOnline([a]);
    const b = connect(app, "b");
    const map = b.map("m");
    await waitFor(() => map.entries().length === 2, "b receives the entries");
    expect(map.entries()).toEqual([
      ["k1", 1],
      ["k2", 2],
    ]);
    await a.map("m").remove("k1");
    await waitFor(() => map.get("k1") === undefined, "the remove reaches b");
    expect(map.entries()).toEqual([["k2", 2]]);
  });

  it("converges concurrent set and remove to the later write on both clients", async () => {
    const app = newApp();
    // Skewed wall clocks make the order of the concurrent writes certain: b's remove is later.
    const a = connect(app, "a", () => Date.now());
    const b = connect(app, "b", () => Date.now() + 5_000);
    const [mapA, mapB] = [a.map("m"), b.map("m")];
    await allOnline([a, b]);
    await mapA.set("seed", true);
    await waitFor(() => mapB.get("seed") === true, "b has the seed entry");
    a.disconnect();
    b.disconnect();
    await mapA.set("k", "a's value"); // earlier HLC
    await mapB.remove("k"); // later HLC
    await mapA.remove("j"); // earlier HLC
    await mapB.set("j", "b's value"); // later HLC
    a.connect();
    b.connect();
    await allOnline([a, b]);
    await waitFor(
      () => mapA.get("k") === undefined && mapA.get("j") === "b's value",
      () => `a converged: ${JSON.stringify(mapA.entries())}`,
    );
    await waitFor(
      () => mapB.get("j") === "b's value",
      () => `b converged: ${JSON.stringify(mapB.entries())}`,
    );
    expect(mapA.entries()).toEqual([
      ["j", "b's value"],
      ["seed", true],
    ]);
    expect(mapB.entries()).toEqual(mapA.entries());
  });

  it("brings a key back with a set after a remove, on every client", async () => {
    const app = newApp();
    const [a, b] = [connect(app, "a"), connect(app, "b")];
    const seen = recorder<Entries>();
    b.map("m").subscribe(seen.callback);
    await allOnline([a, b]);
    await a.map("m").set("k", 1);
    await waitFor(() => b.map("m").get("k") === 1, "the set reaches b");
    await b.map("m").remove("k");
    await waitFor(() => a.map("m").get("k") === undefined, "the remove reaches a");
    await a.map("m").set("k", 2);
    await waitFor(() => b.map("m").get("k") === 2, "the second set reaches b");
    expect(a.map("m").entries()).toEqual([["k", 2]]);
    expect(seen.calls.map((call) => call.data)).toEqual([undefined, [], [["k", 1]], [], [["k", 2]]]);
  });
});
