// @vitest-environment node
import { createClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { renderToString } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { countSubscriptions } from "./testing/fixtures.js";
import { TrellisProvider } from "./trellis-provider.js";
import { useQuery } from "./use-query.js";

// Server rendering: no effects run, so nothing may stay subscribed.

const schema = createSchema({ entities: { todos: { title: t.string({ fallback: "" }) } } });

describe("server rendering", () => {
  it("renders preloaded data and leaves no subscription open", async () => {
    const client = createClient({ schema, appId: "ssr" });
    await client.database.todos.create({ title: "milk" });
    const { data: preloaded } = await client.database.todos.preload({ fields: { title: true } });
    const counts = countSubscriptions(client.database.todos);
    function Todos() {
      const { data, loading } = useQuery(preloaded!);
      return <p>{loading ? "loading" : data!.map((todo) => todo.title).join(",")}</p>;
    }
    const html = renderToString(
      <TrellisProvider client={client}>
        <Todos />
      </TrellisProvider>,
    );
    expect(html).toBe("<p>milk</p>");
    expect(counts).toMatchObject({ opened: 1, live: 0 });
    await client.close();
  });
});
