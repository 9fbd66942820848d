import { createSchema, t } from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import { createClient, type PaginatedController, type PaginatedState } from "./index.js";

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
const db = createClient({ schema }).database;

describe("paginated types", () => {
  it("types the state's documents by the selection", () => {
    const pages = db.users.paginated({
      fields: { name: true, lastLogin: true },
      orderBy: ["name", "asc"],
      pageSize: 20,
    });
    expectTypeOf(pages).toEqualTypeOf<PaginatedController<{ name: string; lastLogin: Date | undefined }>>();
    expectTypeOf(pages.getCurrentState().data).toEqualTypeOf<
      readonly { name: string; lastLogin: Date | undefined }[] | undefined
    >();
    pages.subscribe((state) => {
      expectTypeOf(state).toEqualTypeOf<PaginatedState<{ name: string; lastLogin: Date | undefined }>>();
      expectTypeOf(state.currentPage).toBeNumber();
      expectTypeOf(state.hasNext).toBeBoolean();
      expectTypeOf(state.hasSynced).toBeBoolean();
    });
    expectTypeOf(pages.subscribe(() => {})).toEqualTypeOf<() => void>();
    expectTypeOf(pages.next()).toEqualTypeOf<Promise<void>>();
    expectTypeOf(pages.previous()).toEqualTypeOf<Promise<void>>();
  });

  it("returns every field plus id without a selection, and relations with one", () => {
    const all = db.users.paginated({ pageSize: 5 });
    expectTypeOf(all.getCurrentState().data).toEqualTypeOf<
      | readonly {
          id: string;
          name: string;
          age: number | undefined;
          lastLogin: Date | undefined;
          prefs: import("@trellis/core").JsonValue | undefined;
        }[]
      | undefined
    >();
    const posts = db.posts.paginated({ fields: { title: true, authorId: { fields: { name: true } } }, pageSize: 5 });
    expectTypeOf(posts.getCurrentState().data).toEqualTypeOf<
      readonly { title: string; authorId: { name: string } | undefined }[] | undefined
    >();
  });

  it("needs a pageSize and rejects limit and unknown options", () => {
    // @ts-expect-error pageSize is required
    db.users.paginated({ orderBy: ["name", "asc"] });
    // @ts-expect-error pages take pageSize, not limit
    db.users.paginated({ pageSize: 10, limit: 5 });
    // @ts-expect-error unknown option
    db.users.paginated({ pageSize: 10, bogus: true });
    // @ts-expect-error unknown field in where
    db.users.paginated({ pageSize: 10, where: { nope: 1 } });
  });

  it("pages aggregate queries as their rows", () => {
    const pages = db.users.paginated({
      aggregations: { n: { count: "*" }, last: { max: "lastLogin" } },
      groupBy: ["name"],
      orderBy: ["n", "desc"],
      pageSize: 10,
    });
    expectTypeOf(pages).toEqualTypeOf<PaginatedController<{ name: string; n: number; last: Date | undefined }>>();
    const total = db.users.paginated({ aggregations: { years: { sum: "age" } }, pageSize: 1 });
    expectTypeOf(total.getCurrentState().data).toEqualTypeOf<readonly { years: number }[] | undefined>();
  });

  it("checks paginated aggregate queries as aggregate queries", () => {
    // @ts-expect-error pages take pageSize, not limit
    db.users.paginated({ groupBy: ["name"], pageSize: 10, limit: 5 });
    // @ts-expect-error orderBy names a group field or an aggregate
    db.users.paginated({ groupBy: ["name"], orderBy: ["age", "asc"], pageSize: 10 });
    // @ts-expect-error fields do not combine with aggregations
    db.users.paginated({ aggregations: { n: { count: "*" } }, fields: { name: true }, pageSize: 10 });
    // @ts-expect-error sum takes numbers
    db.users.paginated({ aggregations: { s: { sum: "name" } }, pageSize: 10 });
  });
});
