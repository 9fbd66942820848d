import {
  createSchema,
  type DatabaseResult,
  type EncodedDoc,
  type NormalizedAggregateQuery,
  type NormalizedQuery,
  t,
  type Triple,
} from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import { createClient, type PaginatedController, type PreloadData, type Subscription } from "./index.js";

const schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }), lastLogin: t.date({ optional: true }) },
    posts: { title: t.string({ fallback: "" }) },
  },
});
const db = createClient({ schema }).database;
type User = { name: string; lastLogin: Date | undefined };
const selection = { fields: { name: true, lastLogin: true } } as const;

describe("preload types", () => {
  it("types PreloadData by its documents and kind", () => {
    expectTypeOf(db.users.preload(selection)).toEqualTypeOf<Promise<DatabaseResult<PreloadData<User, "many">>>>();
    expectTypeOf(db.users.preloadOne(selection)).toEqualTypeOf<Promise<DatabaseResult<PreloadData<User, "one">>>>();
    expectTypeOf(db.users.preloadPaginated({ ...selection, pageSize: 10 })).toEqualTypeOf<
      Promise<DatabaseResult<PreloadData<User, "paginated">>>
    >();
  });

  it("is plain data: the encoded documents, the normalized query, and the server's cursor and triples", () => {
    type Preloaded = PreloadData<User, "many">;
    expectTypeOf<Preloaded["kind"]>().toEqualTypeOf<"many">();
    expectTypeOf<Preloaded["appId"]>().toBeString();
    expectTypeOf<Preloaded["collection"]>().toBeString();
    expectTypeOf<Preloaded["query"]>().toEqualTypeOf<NormalizedQuery | NormalizedAggregateQuery>();
    expectTypeOf<Preloaded["data"]>().toEqualTypeOf<readonly EncodedDoc[]>();
    expectTypeOf<Preloaded["cursor"]>().toEqualTypeOf<string | null>();
    expectTypeOf<Preloaded["triples"]>().toEqualTypeOf<readonly Triple[]>();
    // No function-valued members: nothing a serialiser would drop.
    expectTypeOf<
      { [K in keyof Preloaded]-?: Preloaded[K] extends (...args: never[]) => unknown ? K : never }[keyof Preloaded]
    >().toBeNever();
  });

  it("continues preloaded data with the document type it was made with", async () => {
    const many = (await db.users.preload(selection)).data!;
    const one = (await db.users.preloadOne(selection)).data!;
    const page = (await db.users.preloadPaginated({ ...selection, pageSize: 10 })).data!;
    expectTypeOf(
      db.users.subscribe(many, (data) => expectTypeOf(data).toEqualTypeOf<readonly User[] | undefined>()),
    ).toEqualTypeOf<Subscription<readonly User[]>>();
    expectTypeOf(
      db.users.subscribeOne(one, (data) => expectTypeOf(data).toEqualTypeOf<User | undefined>()),
    ).toEqualTypeOf<Subscription<User | undefined>>();
    expectTypeOf(db.users.paginated(page)).toEqualTypeOf<PaginatedController<User>>();
  });

  it("keeps the kinds apart", async () => {
    expectTypeOf<PreloadData<User, "one">>().not.toExtend<PreloadData<User, "many">>();
    expectTypeOf<PreloadData<User, "many">>().not.toExtend<PreloadData<User, "paginated">>();
    const many = (await db.users.preload(selection)).data!;
    // @ts-expect-error a preload result is not a page
    db.users.paginated(many);
  });

  it("types aggregate preloads by their rows, and continues them with that type", async () => {
    const byName = { aggregations: { n: { count: "*" }, last: { max: "lastLogin" } }, groupBy: ["name"] } as const;
    type Row = { name: string; n: number; last: Date | undefined };
    expectTypeOf(db.users.preload(byName)).toEqualTypeOf<Promise<DatabaseResult<PreloadData<Row, "many">>>>();
    expectTypeOf(db.users.preloadOne(byName)).toEqualTypeOf<Promise<DatabaseResult<PreloadData<Row, "one">>>>();
    expectTypeOf(db.users.preloadPaginated({ ...byName, pageSize: 5 })).toEqualTypeOf<
      Promise<DatabaseResult<PreloadData<Row, "paginated">>>
    >();
    const many = (await db.users.preload(byName)).data!;
    const one = (await db.users.preloadOne(byName)).data!;
    const page = (await db.users.preloadPaginated({ ...byName, pageSize: 5 })).data!;
    db.users.subscribe(many, (data) => expectTypeOf(data).toEqualTypeOf<readonly Row[] | undefined>());
    db.users.subscribeOne(one, (data) => expectTypeOf(data).toEqualTypeOf<Row | undefined>());
    expectTypeOf(db.users.paginated(page)).toEqualTypeOf<PaginatedController<Row>>();
  });

  it("checks aggregate preloads as aggregate queries", () => {
    // @ts-expect-error fields do not combine with aggregations
    void db.users.preload({ aggregations: { n: { count: "*" } }, fields: { name: true } });
    // @ts-expect-error orderBy names a group field or an aggregate
    void db.users.preloadOne({ groupBy: ["name"], orderBy: ["lastLogin", "asc"] });
    // @ts-expect-error pages take pageSize, not limit
    void db.users.preloadPaginated({ groupBy: ["name"], pageSize: 5, limit: 2 });
  });
});
