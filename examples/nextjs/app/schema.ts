// What the server component and the browser share: the schema.
import { createSchema, type Doc, t } from "@trellis/core";

/** The example's data: a todo list. Every document also has `id`, `createdAt`, `updatedAt`, `createdBy`. */
export const schema = createSchema({
  entities: {
    todos: {
      text: t.string({ fallback: "" }),
      done: t.boolean({ fallback: false }),
    },
  },
});

/** A todo as the list reads it: a query without `fields` returns the id and the schema's fields. */
export type Todo = Pick<Doc<typeof schema.entities.todos>, "id" | "text" | "done">;
