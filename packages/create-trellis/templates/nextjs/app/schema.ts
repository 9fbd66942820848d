import { createSchema, type Doc, t } from "@trellis/core";

/**
 * The app's data, and the source of its types; the server component and the browser share it.
 * Each document also has `id`, `createdAt`, `updatedAt` and `createdBy`. Add collections and
 * fields here; clients with older schemas read a missing field as its fallback.
 */
export const schema = createSchema({
  entities: {
    todos: {
      text: t.string({ fallback: "" }),
      done: t.boolean({ fallback: false }),
    },
  },
});

/** A todo as the list reads it: a query without `fields` gives the id and the schema's fields. */
export type Todo = Pick<Doc<typeof schema.entities.todos>, "id" | "text" | "done">;
