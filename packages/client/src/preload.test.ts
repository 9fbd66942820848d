import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { PRELOAD_TRANSPORTS } from "./testing/preload-transports.js";
import { createClient, type PaginatedState, PRELOAD_FORMAT, type PreloadData } from "./index.js";

const schema = createSchema({
  entities: {
    users: {
      name: t.string({ fallback: "" }),
      age: t.number({ optional: true }),
      lastLogin: t.date({ optional: true }),
      prefs: t.json({ optional: true }),
    },
    posts: { title: t.string({ fallback: "" }), authorId: t.ref("users") },
  },
});

const LOGIN = new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 10));

async function setup(appId = "shop") {
  const client = createClient({ schema, appId });
  const users = client.database.users;
  for (const [name, age] of [
    ["Ada", 36],
    ["Bob", undefined],
    ["Cy", 52],
  ] as const) {
    await users.create({
      name,
      age,
      lastLogin: name === "Bob" ? undefined : LOGIN,
      prefs: name === "Ada" ? { theme: "dark" } : undefined,
    });
  }
  return { client, users };
}

type Call = { data: unknown; error: unknown; loading: boolean; hasSynced: boolean };
function recorder() {
  const calls: Call[] = [];
  return {
    calls,
    callback: (data: unknown, error: unknown, loading: boolean, hasSynced: boolean) =>
      calls.push({ data, error, loading, hasSynced }),
  };
}

const query = { fields: { name: true, age: true, lastLogin: true, prefs: true }, orderBy: ["name", "asc"] } as const;
const expected = [
  { name: "Ada", age: 36, lastLogin: LOGIN, prefs: { theme: "dark" } },
  { name: "Bob", age: undefined, lastLogin: undefined, prefs: undefined },
  { name: "Cy", age: 52, lastLogin: LOGIN, prefs: undefined },
];

describe("preload", () => {
  it("returns plain data naming the app, the collection and the normalized query, Dates as epoch ms", async () => {
    const { users } = await setup();
    const { data: preloaded, error } = await users.preload(query);
    expect(error).toBeUndefined();
    expect(preloaded).toMatchObject({
      format: PRELOAD_FORMAT,
      kind: "many",
      appId: "shop",
      collection: "users",
      query: { collection: "users", select: ["name", "age", "lastLogin", "prefs"], orderBy: [["name", "asc"]] },
      page: null,
      cursor: null,
    });
    expect(preloaded!.data).toEqual([
      { name: "Ada", age: 36, lastLogin: LOGIN.getTime(), prefs: { theme: "dark" } },
      { name: "Bob" },
      { name: "Cy", age: 52, lastLogin: LOGIN.getTime() },
    ]);
    // Nothing but plain JSON inside: JSON round-trips it unchanged.
    expect(JSON.parse(JSON.stringify(preloaded))).toEqual(
      JSON.parse(JSON.stringify(JSON.parse(JSON.stringify(preloaded)))),
    );
    expect(JSON.stringify(JSON.parse(JSON.stringify(preloaded)))).toBe(JSON.stringify(preloaded));
  });

  for (const [name, carry] of PRELOAD_TRANSPORTS) {
    it(`survives ${name} with Dates intact`, async () => {
      const { users } = await setup();
      const many = carry((await users.preload(query)).data!);
      const one = carry((await users.preloadOne({ ...query, where: { name: "Cy" } })).data!);
      const page = carry((await users.preloadPaginated({ ...query, pageSize: 2 })).data!);

      // In the browser: a client of the same app without any data yet.
      const browser = createClient({ schema, appId: "shop" }).database.users;
      const { calls, callback } = recorder();
      browser.subscribe(many, callback);
      expect(calls[0]).toEqual({ data: expected, error: undefined, loading: false, hasSynced: true });
      expect((calls[0]!.data as Array<{ lastLogin?: Date }>)[0]!.lastLogin).toBeInstanceOf(Date);
      expect(calls).toHaveLength(2); // then live data takes over: this client has none
      expect(calls[1]).toEqual({ data: [], error: undefined, loading: false, hasSynced: true });

      const single = recorder();
      browser.subscribeOne(one, single.callback);
      expect(single.calls[0]).toEqual({ data: expected[2], error: undefined, loading: false, hasSynced: true });

      const pages = browser.paginated(page);
      expect(pages.getCurrentState()).toEqual({
        data: expected.slice(0, 2),
        currentPage: 1,
        estimatedTotalPages: 2,
        estimatedTotalCount: 3,
        hasNext: true,
        hasPrevious: false,
        loading: false,
        hasSynced: true,
        error: undefined,
      });
      const first = pages.getCurrentState();
      const states: unknown[] = [];
      pages.subscribe((state) => states.push(state));
      expect(states[0]).toBe(first);
      expect(states[1]).toMatchObject({
        data: [],
        currentPage: 1,
        estimatedTotalCount: 0,
        hasNext: false,
        loading: false,
      });
      expect(states).toHaveLength(2);
    });
  }

  it("on a client that has the data, calls back once with the preloaded data and then follows changes", async () => {
    const { users } = await setup();
    const preloaded = (await users.preload(query)).data!;
    const { calls, callback } = recorder();
    const subscription = users.subscribe(preloaded, callback);
    expect(calls).toEqual([{ data: expected, error: undefined, loading: false, hasSynced: true }]);
    expect(subscription.getCurrentState()).toEqual({
      data: expected,
      error: undefined,
      loading: false,
      hasSynced: true,
    });
    await users.create({ name: "Dee" });
    expect(calls).toHaveLength(2);
    expect(calls[1]!.data).toEqual([
      ...expected,
      { name: "Dee", age: undefined, lastLogin: undefined, prefs: undefined },
    ]);
    subscription.unsubscribe();
  });

  it("delivers the live result right after the preloaded one when they differ", async () => {
    const { users } = await setup();
    const preloaded = (await users.preload(query)).data!;
    const ada = (await users.queryOne({ where: { name: "Ada" } })).data!;
    await users.update({ id: ada.id, fields: { age: 37 } });
    const { calls, callback } = recorder();
    users.subscribe(preloaded, callback);
    expect(calls.map((call) => (call.data as Array<{ age?: number }>)[0]!.age)).toEqual([36, 37]);
    expect(calls.every((call) => call.loading === false)).toBe(true);
  });

  it("subscribeOne(preloaded) carries the preloaded first match, or undefined when there was none", async () => {
    const { users } = await setup();
    const none = (await users.preloadOne({ where: { name: "Zed" } })).data!;
    expect(none.data).toEqual([]);
    expect(none.query.limit).toBe(1);
    const { calls, callback } = recorder();
    users.subscribeOne(none, callback);
    expect(calls).toEqual([{ data: undefined, error: undefined, loading: false, hasSynced: true }]);
    await users.create({ name: "Zed" });
    expect(calls).toHaveLength(2);
    expect(calls[1]!.data).toMatchObject({ name: "Zed" });
  });

  it("paginated(preloaded) delivers the preloaded page first, then pages on live", async () => {
    const { users } = await setup();
    const preloaded = (await users.preloadPaginated({ fields: { name: true }, orderBy: ["name", "asc"], pageSize: 2 }))
      .data!;
    expect(preloaded).toMatchObject({
      kind: "paginated",
      page: { pageSize: 2, totalCount: 3 },
      data: [{ name: "Ada" }, { name: "Bob" }],
    });
    const pages = users.paginated(preloaded);
    const states: PaginatedState<{ name: string }>[] = [];
    const stop = pages.subscribe((state) => states.push(state));
    expect(states).toHaveLength(1); // the live page reads the same: no second call
    expect(states[0]).toMatchObject({
      data: [{ name: "Ada" }, { name: "Bob" }],
      currentPage: 1,
      hasNext: true,
      loading: false,
    });
    await pages.next();
    expect(states.at(-1)).toMatchObject({ data: [{ name: "Cy" }], currentPage: 2, hasNext: false, hasPrevious: true });
    stop();
  });

  it("refuses preloaded data of another app, collection or kind, or that was tampered with", async () => {
    const { users, client } = await setup();
    const many = (await users.preload(query)).data!;
    const one = (await users.preloadOne(query)).data!;
    const page = (await users.preloadPaginated({ ...query, pageSize: 2 })).data!;
    const other = createClient({ schema, appId: "elsewhere" }).database.users;
    const tamper = (change: (copy: Record<string, any>) => void) => {
      const copy = JSON.parse(JSON.stringify(many));
      change(copy);
      return copy as typeof many;
    };
    const cases: Array<[string, () => { error: unknown }, RegExp]> = [
      ["another app", () => other.subscribe(many, () => {}).getCurrentState(), /belongs to app "shop".*"elsewhere"/],
      [
        "another collection",
        () => client.database.posts.subscribe(many as never, () => {}).getCurrentState(),
        /collection "users"/,
      ],
      [
        "another kind",
        () => users.subscribe(one as never, () => {}).getCurrentState(),
        /preloadOne\(\); pass it to subscribeOne/,
      ],
      ["a paginated preload", () => users.subscribeOne(page as never, () => {}).getCurrentState(), /preloadPaginated/],
      [
        "a page to paginated",
        () => users.paginated(many as never).getCurrentState(),
        /preload\(\); pass it to subscribe\(\)/,
      ],
      [
        "a date that is not a number",
        () =>
          users
            .subscribe(
              tamper((c) => (c.data[0].lastLogin = "2024-05-06")),
              () => {},
            )
            .getCurrentState(),
        /data\[0\]\.lastLogin/,
      ],
      [
        "an unselected field",
        () =>
          users
            .subscribe(
              tamper((c) => (c.data[1].secret = 1)),
              () => {},
            )
            .getCurrentState(),
        /secret/,
      ],
      [
        "a field outside the schema",
        () =>
          users
            .subscribe(
              tamper((c) => c.query.select.push("password")),
              () => {},
            )
            .getCurrentState(),
        /query/,
      ],
      [
        "a changed read rule",
        () =>
          users
            .subscribe(
              tamper((c) => (c.query.specs.age.type = "string")),
              () => {},
            )
            .getCurrentState(),
        /query/,
      ],
      [
        "an unknown operator",
        () =>
          users
            .subscribe(
              tamper((c) => c.query.where.push({ field: "age", op: "like", operand: 1 })),
              () => {},
            )
            .getCurrentState(),
        /query/,
      ],
      [
        "a prototype key",
        () =>
          users
            .subscribe(
              tamper((c) => c.query.where.push({ field: "__proto__", op: "equals", operand: 1 })),
              () => {},
            )
            .getCurrentState(),
        /query/,
      ],
      [
        "a malformed query",
        () =>
          users
            .subscribe(
              tamper((c) => (c.query.where = 5)),
              () => {},
            )
            .getCurrentState(),
        /query/,
      ],
      [
        "a sync cursor",
        () =>
          users
            .subscribe(
              tamper((c) => (c.cursor = "abc")),
              () => {},
            )
            .getCurrentState(),
        /cursor/,
      ],
      [
        "too many documents",
        () =>
          users
            .subscribeOne(Object.assign(JSON.parse(JSON.stringify(one)), { data: [{}, {}] }), () => {})
            .getCurrentState(),
        /limit/,
      ],
      [
        "bad page facts",
        () =>
          users
            .paginated(Object.assign(JSON.parse(JSON.stringify(page)), { page: { pageSize: 0, totalCount: 3 } }))
            .getCurrentState(),
        /page/,
      ],
    ];
    for (const [name, run, message] of cases) {
      const { error } = run() as { error?: { code: string; message: string } };
      expect(error?.code, name).toBe("VALIDATION");
      expect(error?.message, name).toMatch(message);
    }
    expect(Object.prototype).not.toHaveProperty("equals");
  });

  it("takes back a query however its fields, relations, filters and sort keys were ordered", async () => {
    const { users, client } = await setup();
    const ada = (await users.queryOne({ where: { name: "Ada" } })).data!;
    await client.database.posts.create({ title: "Notes", authorId: ada.id });
    const browser = createClient({ schema, appId: "shop" }).database;
    const firstCall = (follow: (callback: ReturnType<typeof recorder>["callback"]) => unknown) => {
      const { calls, callback } = recorder();
      follow(callback);
      return calls[0];
    };
    const relationFirst = (
      await client.database.posts.preload({
        fields: { authorId: { fields: { name: true } }, title: true },
        where: { title: { startsWith: "N" } },
      })
    ).data!;
    expect(firstCall((callback) => browser.posts.subscribe(relationFirst, callback))).toMatchObject({
      data: [{ authorId: { name: "Ada" }, title: "Notes" }],
      error: undefined,
    });
    const unselectedFilterAndSort = (
      await users.preload({
        fields: { posts: { fields: { title: true } }, name: true },
        where: { age: { greaterThan: 0 } },
        orderBy: ["lastLogin", "desc"],
      })
    ).data!;
    expect(firstCall((callback) => browser.users.subscribe(unselectedFilterAndSort, callback))?.error).toBeUndefined();
  });

  it("preloads relations and where filters on dates, and continues them live", async () => {
    const { users, client } = await setup();
    const ada = (await users.queryOne({ where: { name: "Ada" } })).data!;
    await client.database.posts.create({ title: "Notes", authorId: ada.id });
    const withPosts = {
      fields: { name: true, lastLogin: true, posts: { fields: { title: true }, orderBy: ["title", "asc"] } },
      where: { lastLogin: { greaterThanOrEqual: LOGIN, in: [LOGIN, new Date(0)] } },
      orderBy: ["name", "desc"],
    } as const;
    const preloaded = JSON.parse(JSON.stringify((await users.preload(withPosts)).data!)) as PreloadData<
      unknown,
      "many"
    >;
    const browser = createClient({ schema, appId: "shop" }).database.users;
    const { calls, callback } = recorder();
    browser.subscribe(preloaded, callback);
    expect(calls[0]).toEqual({
      data: [
        { name: "Cy", lastLogin: LOGIN, posts: [] },
        { name: "Ada", lastLogin: LOGIN, posts: [{ title: "Notes" }] },
      ],
      error: undefined,
      loading: false,
      hasSynced: true,
    });
    const posts = recorder();
    const postsPreloaded = (
      await client.database.posts.preload({ fields: { title: true, authorId: { fields: { name: true } } } })
    ).data!;
    client.database.posts.subscribe(structuredClone(postsPreloaded), posts.callback);
    expect(posts.calls).toEqual([
      { data: [{ title: "Notes", authorId: { name: "Ada" } }], error: undefined, loading: false, hasSynced: true },
    ]);
  });

  it("preloads filters with or and not (dates inside them too), and continues them live", async () => {
    const { users } = await setup();
    const combined = {
      fields: { name: true },
      where: {
        or: [{ name: "Bob" }, { lastLogin: { greaterThanOrEqual: LOGIN }, not: { age: { lessThan: 40 } } }],
        name: { notEquals: "Zed" },
      },
      orderBy: ["name", "asc"],
    } as const;
    const preloaded = JSON.parse(JSON.stringify((await users.preload(combined)).data!)) as PreloadData<unknown, "many">;
    const { calls, callback } = recorder();
    // The same client follows it: the preloaded query normalizes back to itself, and a change
    // that only the `not` reads moves a document in.
    users.subscribe(preloaded, callback);
    expect(calls).toEqual([
      { data: [{ name: "Bob" }, { name: "Cy" }], error: undefined, loading: false, hasSynced: true },
    ]);
    const ada = (await users.queryOne({ where: { name: "Ada" } })).data!;
    await users.update({ id: ada.id, fields: { age: 41 } });
    expect(calls.at(-1)).toEqual({
      data: [{ name: "Ada" }, { name: "Bob" }, { name: "Cy" }],
      error: undefined,
      loading: false,
      hasSynced: true,
    });
  });

  it("returns VALIDATION errors for invalid queries", async () => {
    const { users } = await setup();
    expect((await users.preload({ where: { nope: 1 } } as never)).error?.code).toBe("VALIDATION");
    expect((await users.preloadOne({ orderBy: ["prefs", "asc"] } as never)).error?.code).toBe("VALIDATION");
    expect((await users.preloadPaginated({ pageSize: 0 } as never)).error?.code).toBe("VALIDATION");
    expect((await users.preloadPaginated({ pageSize: 5, limit: 3 } as never)).error?.code).toBe("VALIDATION");
  });

  it("accepts preloaded data typed for its documents", async () => {
    const { users } = await setup();
    const preloaded: PreloadData<{ name: string }, "many"> = (
      await users.preload({ fields: { name: true }, orderBy: ["name", "asc"] })
    ).data!;
    const names: string[] = [];
    users.subscribe(preloaded, (data) => names.push(...(data ?? []).map((doc) => doc.name)));
    expect(names).toEqual(["Ada", "Bob", "Cy"]);
  });
});
