// What the server's load and the browser share: the schema.
import { createSchema, type FieldDef, type Schema, t } from "@trellis/core";

/** A required field with a fallback (so it always reads as a `T`). */
type Field<T> = FieldDef<T, false, true>;

/**
 * The schema's types, spelled out: the repository's typecheck emits declarations, and those
 * cannot name the field types `t` infers (as in examples/react-todo/src/schema.ts).
 */
export type ExampleSchema = Schema<
  { readonly todos: { readonly text: Field<string>; readonly done: Field<boolean> } },
  {
    readonly board: {
      readonly events: Record<never, never>;
      readonly userStatus: { readonly name: Field<string> };
      readonly roomStatus: Record<never, never>;
    };
  }
>;

/**
 * The example's data: a todo list (every document also has `id`, `createdAt`, `updatedAt`,
 * `createdBy`), and a board room whose members say who they are.
 */
export const schema: ExampleSchema = createSchema({
  entities: {
    todos: {
      text: t.string({ fallback: "" }),
      done: t.boolean({ fallback: false }),
    },
  },
  rooms: {
    board: {
      events: {},
      userStatus: { name: t.string({ fallback: "" }) },
      roomStatus: {},
    },
  },
});

/** Todos per page. */
export const PAGE_SIZE = 5;
