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

    const client = live.track(
      createClient({
        schema,
        serverUrl: live.server.url,
        appId,
        userId: "browser",
        reconnect: FAST_RECONNECT,
        storage: "memory",
      }),
    );
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
});
