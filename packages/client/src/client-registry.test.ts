import { createSchema, t } from "@trellis/core";
import { expect, it } from "vitest";
import { findClient } from "./client-registry.js";
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
