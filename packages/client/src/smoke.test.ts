import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { createClient } from "./index.js";

const schema = createSchema({
  entities: {
    users: {
      name: t.string({ fallback: "" }),
      age: t.number({ optional: true }),
      tags: t.refMany("users"),
    },
  },
});

describe("smoke", () => {
  it("creates, queries and subscribes", async () => {
    const client = createClient({ schema, userId: "alice" });
    const created = await client.database.users.create({ name: "Ada", age: 36 });
    expect(created.error).toBeUndefined();
    expect(created.data?.name).toBe("Ada");
    const calls: unknown[] = [];
    client.database.users.subscribe(
      { fields: { name: true }, where: { age: { greaterThan: 30 } }, orderBy: ["name", "asc"] },
      (data) => calls.push(data),
    );
    await client.database.users.create({ name: "Bob", age: 40 });
    await client.database.users.create({ name: "Cy", age: 10 });
    await client.database.users.update({ id: created.data!.id, fields: { age: 20 } });
    expect(calls).toEqual([[{ name: "Ada" }], [{ name: "Ada" }, { name: "Bob" }], [{ name: "Bob" }]]);
    const all = await client.database.users.query({ orderBy: ["age", "desc"] });
    expect(all.data?.map((u) => u.name)).toEqual(["Bob", "Ada", "Cy"]);
  });
});
