import { createSchema, t } from "@trellis/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createClient } from "./index.js";

const schema = createSchema({
  entities: {
    users: {
      name: t.string({ fallback: "" }),
      age: t.number({ optional: true }),
      bio: t.string({ optional: true }),
      isAdult: t.boolean({ fallback: false }),
      lastLogin: t.date({ optional: true }),
    },
    posts: { title: t.string({ fallback: "" }) },
  },
});

type Call = { data: unknown; error: unknown; loading: boolean; hasSynced: boolean };

/** A callback that records its calls. */
function recorder() {
  const calls: Call[] = [];
  const callback = (data: unknown, error: unknown, loading: boolean, hasSynced: boolean) => {
    calls.push({ data, error, loading, hasSynced });
  };
  return { calls, callback };
}

async function setup() {
  const client = createClient({ schema, userId: "alice" });
  const users = client.database.users;
  const ids: string[] = [];
  for (const [name, age] of [
    ["Ada", 36],
    ["Bob", 17],
    ["Cy", 52],
  ] as const) {
    const created = await users.create({ name, age, isAdult: age >= 18 });
    ids.push(created.data!.id);
  }
  return { client, users, ids };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("subscribe", () => {
  it("calls back at once with the data and loading false on a local client", async () => {
    const { users } = await setup();
    const { calls, callback } = recorder();
    users.subscribe({ fields: { name: true }, where: { isAdult: true }, orderBy: ["name", "asc"] }, callback);
    expect(calls).toEqual([
      { data: [{ name: "Ada" }, { name: "Cy" }], error: undefined, loading: false, hasSynced: false },
    ]);
  });

  it("calls back at once with an empty result for a collection never written to", async () => {
    const { client } = await setup();
    const { calls, callback } = recorder();
    client.database.posts.subscribe({}, callback);
    expect(calls).toEqual([{ data: [], error: undefined, loading: false, hasSynced: false }]);
    await client.database.posts.create({ title: "first" });
    expect(calls).toHaveLength(2);
    expect(calls[1]!.data).toEqual([{ id: expect.any(String), title: "first" }]);
  });

  it("calls back once for an updateMany of 50 documents", async () => {
    const { users } = await setup();
    for (let i = 0; i < 50; i++) await users.create({ name: `u${i}`, age: i, isAdult: false });
    const { calls, callback } = recorder();
    users.subscribe(
      { fields: { name: true, age: true }, where: { age: { lessThan: 50 } }, orderBy: ["age", "asc"] },
      callback,
    );
    const result = await users.updateMany({
      where: { name: { startsWith: "u" } },
      fields: (previous) => ({ age: (previous.age ?? 0) + 1 }),
    });
    expect(result.data).toEqual({ count: 50 });
    expect(calls).toHaveLength(2);
    expect((calls[1]!.data as unknown[]).length).toBe(51); // Bob (17), Ada (36) and u0…u48, now aged 1…49
  });

  it("calls back once for a batch.execute of 20 operations", async () => {
    const { client, users, ids } = await setup();
    const { calls, callback } = recorder();
    users.subscribe({ fields: { name: true }, orderBy: ["name", "asc"] }, callback);
    const batch = client.database.batch;
    const operations = [
      ...Array.from({ length: 15 }, (_, i) =>
        batch.users.create({ name: `b${String(i).padStart(2, "0")}`, isAdult: false }),
      ),
      batch.users.update({ id: ids[0]!, fields: { name: "Ada Lovelace" } }),
      batch.users.replace({ id: ids[1]!, fields: { name: "Robert", isAdult: true } }),
      batch.users.delete(ids[2]!),
      batch.users.updateMany({ where: { name: "b00" }, fields: { name: "b-first" } }),
      batch.users.deleteMany({ where: { name: "b14" } }),
    ];
    expect(operations).toHaveLength(20);
    const result = await batch.execute(operations);
    expect(result.data?.every((each) => each.error === undefined)).toBe(true);
    expect(calls).toHaveLength(2);
    const names = (calls[1]!.data as Array<{ name: string }>).map((doc) => doc.name);
    expect(names).toHaveLength(16);
    expect(names.slice(0, 3)).toEqual(["Ada Lovelace", "Robert", "b-first"]);
    expect(names).not.toContain("b14");
  });

  it("calls back once for a write that changes several fields, or a function update", async () => {
    const { users, ids } = await setup();
    const { calls, callback } = recorder();
    users.subscribe({ fields: { name: true, age: true, bio: true }, where: { id: ids[0]! } }, callback);
    await users.update({ id: ids[0]!, fields: { name: "Ada L", age: 37, bio: "math" } });
    expect(calls).toHaveLength(2);
    await users.update({
      id: ids[0]!,
      fields: (previous) => ({ age: (previous.age ?? 0) + 1, bio: `${previous.bio ?? ""}!` }),
    });
    expect(calls).toHaveLength(3);
    expect((calls[2]!.data as unknown[])[0]).toEqual({ name: "Ada L", age: 38, bio: "math!" });
  });

  it("does not call back when the result is unchanged", async () => {
    const { client, users, ids } = await setup();
    const { calls, callback } = recorder();
    users.subscribe({ fields: { name: true }, where: { isAdult: true }, orderBy: ["age", "desc"] }, callback);
    await users.update({ id: ids[0]!, fields: { bio: "unused by the query" } }); // neither filtered, sorted nor returned
    await users.update({ id: ids[0]!, fields: { name: "Ada" } }); // same value
    await users.update({ id: ids[1]!, fields: { name: "Bobby" } }); // a document that does not match
    await users.update({ id: ids[0]!, fields: { age: 40 } }); // sort key changes, order does not
    await users.create({ name: "Kid", age: 3, isAdult: false }); // does not match
    await client.database.posts.create({ title: "other collection" });
    expect((await users.update({ id: ids[0]!, fields: { age: "old" as never } })).error?.code).toBe("VALIDATION");
    expect((await users.update({ id: "missing", fields: { name: "x" } })).error?.code).toBe("NOT_FOUND");
    expect((await users.delete("missing")).error?.code).toBe("NOT_FOUND");
    expect((await users.updateMany({ where: { age: 1000 }, fields: { name: "nobody" } })).data).toEqual({ count: 0 });
    expect(calls).toHaveLength(1);
  });

  it("does not call back when other documents take the places of equal ones", async () => {
    const { users, ids } = await setup();
    const { calls, callback } = recorder();
    // Without ids, two adults named alike are indistinguishable in the result.
    users.subscribe({ fields: { isAdult: true }, orderBy: ["age", "asc"], limit: 1 }, callback);
    expect(calls[0]!.data).toEqual([{ isAdult: false }]);
    await users.create({ name: "Dee", age: 5, isAdult: false }); // a minor takes first place from another minor
    await users.update({ id: ids[1]!, fields: { age: 2 } }); // and Bob takes it back
    expect(calls).toHaveLength(1);
    await users.update({ id: ids[0]!, fields: { age: 1 } });
    expect(calls).toHaveLength(2);
    expect(calls[1]!.data).toEqual([{ isAdult: true }]);
  });

  it("stops calling back after unsubscribe", async () => {
    const { users, ids } = await setup();
    const { calls, callback } = recorder();
    const subscription = users.subscribe({ fields: { name: true } }, callback);
    const other = recorder();
    users.subscribe({ fields: { name: true } }, other.callback); // shares the live query
    subscription.unsubscribe();
    subscription.unsubscribe(); // harmless
    await users.update({ id: ids[0]!, fields: { name: "Ada L" } });
    await users.create({ name: "Dee", isAdult: false });
    expect(calls).toHaveLength(1);
    expect(other.calls).toHaveLength(3);
  });

  it("lets a callback unsubscribe itself", async () => {
    const { users, ids } = await setup();
    let count = 0;
    const subscription = users.subscribe({ fields: { name: true } }, () => {
      count++;
      if (count === 2) subscription.unsubscribe();
    });
    await users.update({ id: ids[0]!, fields: { name: "one" } });
    await users.update({ id: ids[0]!, fields: { name: "two" } });
    expect(count).toBe(2);
  });

  it("keeps the write and the other subscribers going when a callback throws", async () => {
    const { users, ids } = await setup();
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const before = recorder();
    const after = recorder();
    users.subscribe({ fields: { name: true } }, before.callback);
    let throws = 0;
    users.subscribe({ fields: { name: true } }, () => {
      throws++;
      throw new Error("subscriber bug");
    });
    users.subscribe({ fields: { name: true, age: true } }, after.callback);
    const result = await users.update({ id: ids[0]!, fields: { name: "Ada L" } });
    expect(result).toEqual({ data: undefined, error: undefined });
    expect(throws).toBe(2);
    expect(before.calls).toHaveLength(2);
    expect(after.calls).toHaveLength(2);
    expect((await users.queryOne({ where: { id: ids[0]! }, fields: { name: true } })).data).toEqual({ name: "Ada L" });
    expect(logged).toHaveBeenCalled();
    // Later writes are still delivered.
    await users.create({ name: "Dee", isAdult: false });
    expect(before.calls).toHaveLength(3);
    expect(throws).toBe(3);
  });

  it("calls back once with a VALIDATION error and loading false for an invalid query", async () => {
    const { users, ids } = await setup();
    for (const invalid of [
      { where: { nope: 1 } },
      { where: { age: { greaterThan: "ten" } } },
      { orderBy: ["age", "sideways"] },
      { limit: -1 },
      { fields: { name: "yes" } },
    ]) {
      const { calls, callback } = recorder();
      const subscription = users.subscribe(invalid as never, callback);
      expect(calls).toHaveLength(1);
      expect(calls[0]).toEqual({
        data: undefined,
        error: expect.objectContaining({ code: "VALIDATION" }),
        loading: false,
        hasSynced: false,
      });
      expect(subscription.getCurrentState()).toEqual(calls[0]);
      await users.update({ id: ids[0]!, fields: { age: 99 } });
      expect(calls).toHaveLength(1);
      subscription.unsubscribe();
    }
  });

  it("reflects the last delivery in getCurrentState", async () => {
    const { users, ids } = await setup();
    const { calls, callback } = recorder();
    const subscription = users.subscribe(
      { fields: { name: true, lastLogin: true }, where: { age: { greaterThan: 30 } }, orderBy: ["name", "asc"] },
      callback,
    );
    expect(subscription.getCurrentState()).toEqual(calls[0]);
    const login = new Date("2024-05-01T10:00:00Z");
    await users.update({ id: ids[2]!, fields: { lastLogin: login } });
    expect(calls).toHaveLength(2);
    const state = subscription.getCurrentState();
    expect(state.data).toBe(calls[1]!.data);
    expect(state).toEqual({
      data: [
        { name: "Ada", lastLogin: undefined },
        { name: "Cy", lastLogin: login },
      ],
      error: undefined,
      loading: false,
      hasSynced: false,
    });
    subscription.unsubscribe();
    await users.delete(ids[2]!);
    expect(subscription.getCurrentState().data).toBe(calls[1]!.data);
  });
});

describe("subscribeOne", () => {
  it("follows the first match only", async () => {
    const { users, ids } = await setup();
    const { calls, callback } = recorder();
    const subscription = users.subscribeOne(
      { fields: { name: true, age: true }, where: { isAdult: true }, orderBy: ["age", "desc"] },
      callback,
    );
    expect(calls).toEqual([{ data: { name: "Cy", age: 52 }, error: undefined, loading: false, hasSynced: false }]);
    await users.update({ id: ids[0]!, fields: { name: "Ada L" } }); // the second match
    await users.create({ name: "Eve", age: 20, isAdult: true }); // another later match
    expect(calls).toHaveLength(1);
    await users.update({ id: ids[2]!, fields: { age: 53 } }); // the first match changes
    expect(calls).toHaveLength(2);
    expect(calls[1]!.data).toEqual({ name: "Cy", age: 53 });
    await users.delete(ids[2]!); // the next match moves up
    expect(calls).toHaveLength(3);
    expect(calls[2]!.data).toEqual({ name: "Ada L", age: 36 });
    expect(subscription.getCurrentState().data).toEqual({ name: "Ada L", age: 36 });
    await users.deleteMany({ where: { isAdult: true } });
    expect(calls).toHaveLength(4);
    expect(calls[3]).toEqual({ data: undefined, error: undefined, loading: false, hasSynced: false });
  });

  it("does not call back when another document with an equal result takes first place", async () => {
    const { users, ids } = await setup();
    const { calls, callback } = recorder();
    users.subscribeOne({ fields: { isAdult: true }, orderBy: ["age", "desc"] }, callback);
    expect(calls[0]!.data).toEqual({ isAdult: true });
    await users.update({ id: ids[0]!, fields: { age: 60 } }); // Ada overtakes Cy: both adults
    expect(calls).toHaveLength(1);
  });

  it("calls back with a VALIDATION error for an invalid query", async () => {
    const { users } = await setup();
    const { calls, callback } = recorder();
    users.subscribeOne({ where: { age: { startsWith: "1" } } } as never, callback);
    expect(calls).toEqual([
      { data: undefined, error: expect.objectContaining({ code: "VALIDATION" }), loading: false, hasSynced: false },
    ]);
  });
});
