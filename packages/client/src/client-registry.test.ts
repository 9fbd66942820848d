import { createSchema, t } from "@trellis/core";
import { expect, it } from "vitest";
import { collectionOfPreloaded, findClient } from "./client-registry.js";
import { createClient } from "./create-client.js";

const schema = createSchema({ entities: { todos: { text: t.string({ fallback: "" }) } } });

it("finds the open client of an app created last, and forgets it once closed", async () => {
  expect(findClient("registry-a")).toBeUndefined();
  const first = createClient({ schema, appId: "registry-a" });
  const other = createClient({ schema, appId: "registry-b" });
  expect(findClient("registry-a")).toBe(first);
  const second = createClient({ schema, appId: "registry-a" });
  expect(findClient("registry-a")).toBe(second);
  await second.close();
  expect(findClient("registry-a")).toBe(first);
  await first.close();
  await first.close();
  expect(findClient("registry-a")).toBeUndefined();
  expect(findClient("registry-b")).toBe(other);
  await other.close();
});

it("finds the collection preloaded data names, and tells the fix when there is no client or no such collection", async () => {
  const client = createClient({ schema, appId: "registry-c" });
  const { data: preloaded } = await client.database.todos.preload({});
  expect(collectionOfPreloaded(undefined, preloaded!, "useQuery", "wrap the app")).toBe(client.database.todos);
  for (const collection of ["notes", "batch", "toString", "__proto__"]) {
    expect(() => collectionOfPreloaded(client, { ...preloaded!, collection }, "query", "pass the client")).toThrow(
      /query\(preloaded\): the client's schema has no collection/,
    );
  }
  await client.close();
  expect(() => collectionOfPreloaded(undefined, preloaded!, "useQuery", "wrap the app")).toThrow(
    'useQuery(preloaded): no client of app "registry-c"; create one with createClient({ appId: "registry-c", … }), wrap the app.',
  );
});
