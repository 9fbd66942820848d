import { createSchema, t } from "@trellis/core";
import { createAdminClient } from "@trellis/server";
import { describe, expect, it } from "vitest";
import { createClient } from "../create-client.js";
import { FAST_RECONNECT, recorder, useServerProcess, waitFor } from "../testing/live-server.js";

// Preloads made by server code with a service key (createAdminClient), followed by a browser-like
// client: the preloaded data is the first state, then the client follows the server live.

const schema = createSchema({
  entities: { todos: { text: t.string({ fallback: "" }), done: t.boolean({ fallback: false }) } },
});
const SECRET = "an-admin-secret-for-admin-preloads";
const live = useServerProcess({ args: ["--admin-secret", SECRET] });

async function appWithKey(): Promise<{ appId: string; serviceKey: string }> {
  const call = async (path: string, body: unknown) =>
    (
      await fetch(`${live.server.url}/v1/admin/apps${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      })
    ).json();
  const appId = ((await call("", { name: "Preloads" })) as { id: string }).id;
  return { appId, serviceKey: ((await call(`/${appId}/keys`, { name: "ssr" })) as { key: string }).key };
}

/** A browser's client of the app: in memory, syncing with `serverUrl`. */
function browser(appId: string, serverUrl = live.server.url) {
  return live.track(
    createClient({ schema, serverUrl, appId, userId: "browser", reconnect: FAST_RECONNECT, storage: "memory" }),
  );
}

describe("preloads from the admin client", () => {
  it("are followed by a client: subscribe, subscribeOne and paginated start from them and go live", async () => {
    const { appId, serviceKey } = await appWithKey();
    const admin = createAdminClient({ schema, serverUrl: live.server.url, appId, serviceKey });
    for (const text of ["a", "b", "c"]) await admin.database.todos.create({ text, done: false });

    const many = await admin.database.todos.preload({ orderBy: ["text", "asc"], fields: { text: true } });
    const one = await admin.database.todos.preloadOne({ where: { text: "b" }, fields: { text: true } });
    const page = await admin.database.todos.preloadPaginated({
      orderBy: ["text", "asc"],
      pageSize: 2,
      fields: { text: true },
    });
    expect([many.error, one.error, page.error]).toEqual([undefined, undefined, undefined]);
    // Plain data: it survives a trip through JSON, as it does into a page.
    const [preloaded, preloadedOne, preloadedPage] = JSON.parse(JSON.stringify([many.data, one.data, page.data])) as [
      typeof many.data,
      typeof one.data,
      typeof page.data,
    ];

    const client = browser(appId);
    const list = recorder<readonly { text: string }[]>();
    client.database.todos.subscribe(preloaded!, list.callback);
    expect(list.calls[0]).toMatchObject({ data: [{ text: "a" }, { text: "b" }, { text: "c" }], loading: false });
    const single = recorder<{ text: string } | undefined>();
    client.database.todos.subscribeOne(preloadedOne!, single.callback);
    expect(single.calls[0]).toMatchObject({ data: { text: "b" }, loading: false });
    const paginated = client.database.todos.paginated(preloadedPage!);
    expect(paginated.getCurrentState()).toMatchObject({
      data: [{ text: "a" }, { text: "b" }],
      hasNext: true,
      loading: false,
    });

    await admin.database.todos.create({ text: "d", done: false });
    await waitFor(() => list.last?.data?.length === 4, "the client follows the server after the preload");
  });

  it("of aggregate queries carry only the rows; a client shows them until it has synced the documents, then goes live", async () => {
    const { appId, serviceKey } = await appWithKey();
    const admin = createAdminClient({ schema, serverUrl: live.server.url, appId, serviceKey });
    await admin.database.todos.createMany([
      { text: "a", done: true },
      { text: "b", done: false },
      { text: "c", done: false },
    ]);
    const byDone = { aggregations: { n: { count: "*" } }, groupBy: ["done"], orderBy: ["done", "asc"] } as const;
    const many = await admin.database.todos.preload(byDone);
    const page = await admin.database.todos.preloadPaginated({ ...byDone, pageSize: 1 });
    expect([many.error, page.error]).toEqual([undefined, undefined]);
    expect(many.data).toMatchObject({
      data: [
        { done: false, n: 2 },
        { done: true, n: 1 },
      ],
      cursor: null,
      triples: [],
    });
    expect(page.data).toMatchObject({ data: [{ done: false, n: 2 }], page: { pageSize: 1, totalCount: 2 } });
    const [preloaded, preloadedPage] = JSON.parse(JSON.stringify([many.data, page.data])) as [
      typeof many.data,
      typeof page.data,
    ];

    const client = browser(appId);
    const counts = recorder<readonly { done: boolean; n: number }[]>();
    client.database.todos.subscribe(preloaded!, counts.callback);
    expect(counts.calls[0]).toMatchObject({
      data: [
        { done: false, n: 2 },
        { done: true, n: 1 },
      ],
      loading: false,
    });
    const pages = client.database.todos.paginated(preloadedPage!);
    const states: unknown[] = [];
    pages.subscribe((state) => states.push(state.data));
    expect(states).toEqual([[{ done: false, n: 2 }]]);
    // Turning the page waits for the documents, then shows the second group.
    await pages.next();
    expect(pages.getCurrentState()).toMatchObject({ data: [{ done: true, n: 1 }], currentPage: 2, hasNext: false });

    await admin.database.todos.create({ text: "d", done: true });
    await waitFor(() => counts.last?.data?.[1]?.n === 2, "the client follows the server after the preload");
    await waitFor(() => (pages.getCurrentState().data?.[0] as { n?: number })?.n === 2, "the page follows too");
    // The rows were never replaced by the client's own, partial ones before the server answered.
    expect(counts.calls.every((call) => call.data?.length === 2 && call.loading === false)).toBe(true);
    expect(counts.calls.map((call) => call.data!.map((row) => row.n))).toEqual([
      [2, 1],
      [2, 2],
    ]);

    // A client that cannot reach its server keeps the preloaded rows: its own are not the whole.
    const stranded = browser(appId, "http://127.0.0.1:9");
    const held = recorder<readonly { done: boolean; n: number }[]>();
    stranded.database.todos.subscribe(preloaded!, held.callback);
    await waitFor(() => stranded.connection.state === "offline", "the stranded client gives up connecting");
    await stranded.database.todos.create({ text: "local", done: false });
    expect(held.calls).toHaveLength(1);
    expect(held.calls[0]).toMatchObject({
      data: [
        { done: false, n: 2 },
        { done: true, n: 1 },
      ],
      loading: false,
    });

    // A client with a server preloads aggregates the same way, through the server.
    const ssr = live.track(
      createClient({ schema, serverUrl: live.server.url, appId, userId: "ssr", reconnect: FAST_RECONNECT }),
    );
    const fromClient = await ssr.database.todos.preload(byDone);
    expect(fromClient.data).toMatchObject({
      data: [
        { done: false, n: 2 },
        { done: true, n: 2 },
      ],
      cursor: null,
    });
  });
});
