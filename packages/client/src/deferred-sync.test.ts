import { signal } from "@preact/signals-core";
import { AUTO_FIELD_SPECS, type NormalizedQuery, ok, type Triple } from "@trellis/core";
import { describe, expect, it, vi } from "vitest";
import type { ClientSync } from "./client-sync-types.js";
import { DeferredSync } from "./deferred-sync.js";
import { RoomsService } from "./rooms/rooms.js";
import { createClientConnection } from "./sync/client-connection.js";
import type { FollowedQuery } from "./sync/query-sync.js";
import type { WiredSync } from "./wire-sync.js";

const query = (collection: string): NormalizedQuery => ({
  collection,
  select: ["id"],
  where: [],
  orderBy: [],
  limit: undefined,
  specs: { id: AUTO_FIELD_SPECS.id! },
});
const triple = (id: string): Triple => ({ collection: "todos", id, field: "text", value: id, hlc: "h" });

/** A sync that logs what is asked of it; its queries load until `answer()`. */
function fakeWired() {
  const calls: string[] = [];
  const isLoading = signal(true);
  const sync = {
    hasServer: true,
    connection: createClientConnection(signal("connecting"), signal(2), signal(undefined)),
    transportState: "connecting",
    userId: "alice",
    follow: (followed: NormalizedQuery, cursor?: string | null): FollowedQuery => {
      calls.push(`follow ${followed.collection} ${cursor}`);
      return {
        isLoading,
        hasSynced: signal(false),
        answered: async () => {},
        release: () => calls.push(`release ${followed.collection}`),
      };
    },
    settle: async () => void calls.push("settle"),
    load: async () => ok(null),
    applyRemote: (triples: readonly Triple[]) => void calls.push(`applyRemote ${triples.length}`),
    record: (triples: readonly Triple[]) => void calls.push(`record ${triples.length}`),
    connect: () => void calls.push("connect"),
    disconnect: () => void calls.push("disconnect"),
    close: async () => void calls.push("close sync"),
    sendRoom: () => true,
  } satisfies ClientSync;
  const wired: WiredSync = {
    sync,
    share: (triples) => sync.record(triples),
    start: () => calls.push("start"),
    restored: () => calls.push("restored"),
    attachRooms: () => calls.push("attachRooms"),
    prune: async () => ok({ documents: 0, collections: [] }),
    close: async () => void calls.push("close"),
  };
  return { wired, calls, answer: () => (isLoading.value = false) };
}

function arriving() {
  let arrive!: (wired: WiredSync) => void;
  let fail!: (error: Error) => void;
  const wiring = new Promise<WiredSync>((resolve, reject) => {
    arrive = resolve;
    fail = reject;
  });
  return { wiring, arrive, fail };
}

describe("DeferredSync before sync's code arrived", () => {
  it("keeps calls and makes them in order once the code arrives; queries load until then", async () => {
    const { wiring, arrive } = arriving();
    const sync = new DeferredSync(wiring, () => undefined);
    const fake = fakeWired();
    sync.later((wired) => wired.start());
    new RoomsService({}, sync, "alice", "c1", sync.connection);
    const todos = sync.follow(query("todos"));
    const dropped = sync.follow(query("tags"));
    const preloaded = sync.follow(query("users"), "cursor-1");
    dropped.release();
    sync.share([triple("a"), triple("b")]);
    sync.share([triple("c")]);
    expect(sync.connection.state).toBe("initial");
    expect(sync.connection.pending).toBe(2);
    expect(sync.transportState).toBe("initial");
    expect(sync.sendRoom({ type: "leave", roomType: "chat", roomId: "" })).toBe(false);
    expect([todos.isLoading.value, todos.hasSynced.value]).toEqual([true, false]);
    expect([preloaded.isLoading.value, preloaded.hasSynced.value]).toEqual([false, true]);

    arrive(fake.wired);
    await sync.arrival;
    expect(fake.calls).toEqual([
      "start",
      "attachRooms",
      "follow todos null",
      "follow users cursor-1",
      "record 2",
      "record 1",
    ]);
    expect(sync.connection.state).toBe("connecting");
    expect(sync.connection.pending).toBe(2);
    expect(sync.userId).toBe("alice");
    expect(todos.isLoading.value).toBe(true);
    fake.answer();
    expect(todos.isLoading.value).toBe(false);
    todos.release();
    sync.connect();
    expect(fake.calls.slice(-2)).toEqual(["release todos", "connect"]);
  });

  it("applies preloaded data at once, and hands it to the engine once it arrives", async () => {
    const { wiring, arrive } = arriving();
    const applied: number[] = [];
    const sync = new DeferredSync(wiring, (triples) => void applied.push(triples.length));
    sync.applyRemote([triple("a")]);
    expect(applied).toEqual([1]);
    const fake = fakeWired();
    arrive(fake.wired);
    await sync.arrival;
    expect(fake.calls).toEqual(["applyRemote 1"]);
    sync.applyRemote([triple("b"), triple("c")]);
    expect([applied, fake.calls.at(-1)]).toEqual([[1], "applyRemote 2"]);
  });

  it("shows offline after disconnect(), and connects once the code arrives if asked again", async () => {
    const { wiring, arrive } = arriving();
    const sync = new DeferredSync(wiring, () => undefined);
    const states: string[] = [];
    sync.connection.subscribe(({ state, pending }) => states.push(`${state}:${pending}`));
    sync.disconnect();
    sync.connect();
    const fake = fakeWired();
    arrive(fake.wired);
    await sync.arrival;
    expect(states).toEqual(["offline:0", "connecting:0", "connecting:2"]);
    expect(fake.calls).toEqual(["disconnect", "connect"]);
  });

  it("closes the sync once it arrives without making the calls still kept", async () => {
    const { wiring, arrive } = arriving();
    const sync = new DeferredSync(wiring, () => undefined);
    sync.later((wired) => wired.start());
    const closed = sync.close();
    const fake = fakeWired();
    arrive(fake.wired);
    await closed;
    expect(fake.calls).toEqual(["close"]);
  });

  it("is offline with a NETWORK error when the code cannot be loaded, and nothing waits for it", async () => {
    const { wiring, fail } = arriving();
    const sync = new DeferredSync(wiring, () => undefined);
    const todos = sync.follow(query("todos"));
    const answered = todos.answered();
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    fail(new Error("Failed to fetch dynamically imported module"));
    expect(await sync.arrival).toBeUndefined();
    await answered;
    await sync.settle(query("todos"));
    expect(sync.connection.state).toBe("offline");
    expect(sync.connection.lastError?.code).toBe("NETWORK");
    expect(sync.connection.lastError?.message).toMatch(
      /could not load its sync code \(Failed to fetch dynamically imported module\)/,
    );
    expect(todos.isLoading.value).toBe(false);
    expect((await sync.load(query("todos"))).error?.code).toBe("NETWORK");
    expect(error).toHaveBeenCalledOnce();
    error.mockRestore();
    await sync.close();
  });
});
