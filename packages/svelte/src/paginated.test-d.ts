import { createClient, type PreloadData } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import { paginated } from "./paginated.js";
import { query } from "./query.js";

// Not a shared fixture's schema: an exported inferred schema trips the type checker's
// declaration portability check.
const schema = createSchema({
  entities: { todos: { text: t.string({ fallback: "" }), done: t.boolean({ fallback: false }) } },
});
const todos = createClient({ schema }).database.todos;
type Row = { done: boolean; n: number };

describe("aggregate queries in Svelte", () => {
  it("pages an aggregate query's rows, typed by the query", () => {
    // The bindings need a component to run: their return types are what is checked.
    const pages = () =>
      paginated(todos, { aggregations: { n: { count: "*" } }, groupBy: ["done"], orderBy: ["n", "desc"], pageSize: 5 });
    expectTypeOf<ReturnType<typeof pages>["data"]>().toEqualTypeOf<readonly Row[] | undefined>();
    // @ts-expect-error pages take pageSize, not limit
    paginated(todos, { groupBy: ["done"], pageSize: 5, limit: 1 });
  });

  it("continues preloaded aggregate rows with their type", () => {
    const many = {} as PreloadData<Row, "many">;
    const page = {} as PreloadData<Row, "paginated">;
    expectTypeOf(() => query(many))
      .returns.toHaveProperty("data")
      .toEqualTypeOf<readonly Row[] | undefined>();
    expectTypeOf(() => paginated(page))
      .returns.toHaveProperty("data")
      .toEqualTypeOf<readonly Row[] | undefined>();
  });
});
