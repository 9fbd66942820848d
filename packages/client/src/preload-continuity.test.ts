import "fake-indexeddb/auto";
import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { createClient, type ClientOptions, type TrellisClient } from "./create-client.js";
import type { PaginatedState } from "./paginated-types.js";
import type { PreloadData } from "./preload.js";
import { allOnline, FAST_RECONNECT, recordFrames, recorder, useServerProcess, waitFor } from "./testing/live-server.js";

// Preloaded data rendered on a server, then followed by a browser's client against a real
// `trellis-server` process: every callback is recorded, so a list that shows its preloaded data
// and then anything else the server did not say (an empty list first of all) fails here.

const schema = createSchema({
  entities: {
    todos: {
      text: t.string({ fallback: "" }),
      rank: t.number({ optional: true, fallback: 0 }),
      listId: t.ref("lists"),
    },
    lists: { name: t.string({ fallback: "" }), isShared: t.boolean({ fallback: false }) },
  },
});
type Client = TrellisClient<typeof schema>;
type Row = { readonly text: string };

const live = useServerProcess();
/** A port nothing listens on: the browser's server is down. */
const DOWN_URL = "http://127.0.0.1:9";
const QUERY = { orderBy: ["rank", "asc"], fields: { text: true } } as const;

function open(appId: string, options: Partial<ClientOptions<typeof schema>> = {}): Client {
  return live.track(
    createClient({
      schema,
      appId,
      serverUrl: live.server.url,
      storage: "memory",
      reconnect: FAST_RECONNECT,
      ...options,
    }),
  );
}

/** Props as a server component hands them to the browser. */
const overTheWire = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const texts = (rows: readonly Row[] | undefined) => rows?.map((row) => row.text);

/** Every call of a subscription as `[texts, loading]`. */
function follow(client: Client, preloaded: PreloadData<Row, "many">) {
  const seen = recorder<readonly Row[]>();
  client.database.todos.subscribe(preloaded, seen.callback);
  return { seen, sequence: () => seen.calls.map((call) => [texts(call.data), call.loading]) };
}

/** Every state of a paginated controller as `[texts, loading]`. */
function page(client: Client, preloaded: PreloadData<Row, "paginated">) {
  const states: PaginatedState<Row>[] = [];
  const stop = client.database.todos.paginated(preloaded).subscribe((state) => states.push(state));
  return { states, stop, sequence: () => states.map((state) => [texts(state.data), state.loading]) };
}

/** Lets the browser connect, be answered and apply what came (or find its server down). */
async function settled(browser: Client): Promise<void> {
  await waitFor(
    () =>
      (browser.connection.state === "online" && browser.connection.pending === 0) ||
      browser.connection.state === "offline",
    "the browser online and answered, or offline",
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
}

describe("a browser following preloaded data", () => {
  it("never shows what the server-side client holds but the server has not answered", async () => {
    const appId = live.newApp("unpushed");
    // A server-side client whose writes are still on their way to the server when it preloads.
    const frames = recordFrames();
    const renderer = open(appId, { WebSocket: frames.WebSocket });
    await allOnline([renderer]);
    frames.holdPushes();
    // One write call: the server takes both at once, so the browser hears of them in one change.
    await renderer.database.todos.createMany([
      { text: "milk", rank: 1 },
      { text: "eggs", rank: 2 },
    ]);
    const many = await renderer.database.todos.preload(QUERY);
    const first = await renderer.database.todos.preloadPaginated({ ...QUERY, pageSize: 1 });
    expect([many.error, first.error]).toEqual([undefined, undefined]);
    // What the server answered: nothing yet. The preloaded data says just that.
    expect(many.data!.data).toEqual([]);
    expect(first.data!.data).toEqual([]);
    expect(first.data!.page).toEqual({ pageSize: 1, totalCount: 0 });

    const browser = open(appId);
    const list = follow(browser, overTheWire(many.data!));
    const pages = page(browser, overTheWire(first.data!));
    await settled(browser);
    expect(list.sequence()).toEqual([[[], false]]);
    expect(pages.sequence()).toEqual([[[], false]]);

    frames.releasePushes();
    await waitFor(() => list.seen.last?.data?.length === 2, "the writes once on the server");
    expect(list.sequence()).toEqual([
      [[], false],
      [["milk", "eggs"], false],
    ]);
    await waitFor(() => pages.states.at(-1)?.data?.length === 1, "the first page once on the server");
    expect(pages.sequence()).toEqual([
      [[], false],
      [["milk"], false],
    ]);
    pages.stop();
  });

  it("never shows documents the server-side client kept after the server deleted them", async () => {
    const appId = live.newApp("stale");
    const writer = open(appId);
    const milk = (await writer.database.todos.create({ text: "milk", rank: 1 })).data!.id;
    const eggs = (await writer.database.todos.create({ text: "eggs", rank: 2 })).data!.id;
    await allOnline([writer]);
    // A long-lived server-side client: it read both once, and follows neither.
    const renderer = open(appId);
    expect((await renderer.database.todos.preload(QUERY)).data!.data).toEqual([{ text: "milk" }, { text: "eggs" }]);
    await writer.database.todos.delete(eggs);
    await writer.database.todos.delete(milk);
    await allOnline([writer]);

    const preloaded = await renderer.database.todos.preload(QUERY);
    expect(preloaded.data!.data).toEqual([]);
    const browser = open(appId);
    const list = follow(browser, overTheWire(preloaded.data!));
    await settled(browser);
    expect(list.sequence()).toEqual([[[], false]]);
  });

  it("preloads related documents and relational filters from the server's answer, as the browser reads them", async () => {
    const appId = live.newApp("related");
    const writer = open(appId);
    const home = (await writer.database.lists.create({ name: "home", isShared: true })).data!.id;
    const work = (await writer.database.lists.create({ name: "work", isShared: false })).data!.id;
    await writer.database.todos.create({ text: "milk", rank: 1, listId: home });
    await writer.database.todos.create({ text: "report", rank: 2, listId: work });
    await writer.database.todos.create({ text: "eggs", rank: 3, listId: home });
    await allOnline([writer]);
    const renderer = open(appId);
    const shared = {
      fields: { text: true, listId: { fields: { name: true } } },
      where: { listId: { where: { isShared: true } } },
      orderBy: ["rank", "asc"],
    } as const;
    const lists = { fields: { name: true, todos: { fields: { text: true }, orderBy: ["rank", "asc"] } } } as const;
    const todos = overTheWire((await renderer.database.todos.preload(shared)).data!);
    const withTodos = overTheWire(
      (await renderer.database.lists.preload({ ...lists, orderBy: ["name", "asc"] })).data!,
    );
    const expectedTodos = [
      { text: "milk", listId: { name: "home" } },
      { text: "eggs", listId: { name: "home" } },
    ];
    const expectedLists = [
      { name: "home", todos: [{ text: "milk" }, { text: "eggs" }] },
      { name: "work", todos: [{ text: "report" }] },
    ];

    const browser = open(appId);
    const seenTodos = recorder<unknown>();
    const seenLists = recorder<unknown>();
    browser.database.todos.subscribe(todos, seenTodos.callback);
    browser.database.lists.subscribe(withTodos, seenLists.callback);
    await settled(browser);
    expect(seenTodos.calls).toEqual([{ data: expectedTodos, error: undefined, loading: false }]);
    expect(seenLists.calls).toEqual([{ data: expectedLists, error: undefined, loading: false }]);
  });

  describe.each([
    { storage: "memory" as const, server: "running" },
    { storage: "memory" as const, server: "down" },
    { storage: "indexeddb" as const, server: "running" },
    { storage: "indexeddb" as const, server: "down" },
  ])("with storage $storage and its server $server", ({ storage, server }) => {
    it("calls back once, with the preloaded data, for subscribe, subscribeOne and paginated", async () => {
      const appId = live.newApp(`continuity-${storage}-${server}`);
      const renderer = open(appId);
      for (const [rank, text] of ["milk", "eggs", "bread"].entries())
        await renderer.database.todos.create({ text, rank });
      await allOnline([renderer]);
      const many = overTheWire((await renderer.database.todos.preload(QUERY)).data!);
      const one = overTheWire((await renderer.database.todos.preloadOne(QUERY)).data!);
      const first = overTheWire((await renderer.database.todos.preloadPaginated({ ...QUERY, pageSize: 2 })).data!);

      const browser = open(appId, { storage, ...(server === "down" ? { serverUrl: DOWN_URL } : {}) });
      const list = follow(browser, many);
      const single = recorder<Row>();
      browser.database.todos.subscribeOne(one, single.callback);
      const pages = page(browser, first);
      await settled(browser);
      // Down: offline, or between two attempts to reconnect.
      expect(browser.connection.state === "online").toBe(server === "running");
      expect(list.sequence()).toEqual([[["milk", "eggs", "bread"], false]]);
      expect(single.calls.map((call) => [call.data?.text, call.loading])).toEqual([["milk", false]]);
      // The page's count grows once the next page (prefetched) is answered; its documents stay.
      expect(pages.sequence()).toEqual([[["milk", "eggs"], false]]);
      expect(pages.states[0]?.estimatedTotalCount).toBe(3);
      pages.stop();
    });
  });
});
