import { createSchema, type FieldDef, type Schema, t } from "@trellis/core";

/** A required field with a fallback (so it always reads as a `T`). */
type Field<T> = FieldDef<T, false, true>;
/** What `t.ref(target)` and `t.refMany(target)` define. */
type RefField<T extends string> = FieldDef<string, true, false> & { readonly target: T };
type RefManyField<T extends string> = FieldDef<string[], true, true> & { readonly target: T };

/**
 * The schema's types, spelled out: the repository's typecheck emits declarations, and those
 * cannot name the field types `t` infers (as in packages/client/e2e/app/test-app.ts).
 */
export type TodoSchema = Schema<
  {
    readonly users: Record<never, never>;
    readonly lists: { readonly name: Field<string>; readonly memberIds: RefManyField<"users"> };
    readonly todos: { readonly text: Field<string>; readonly done: Field<boolean>; readonly listId: RefField<"lists"> };
  },
  {
    readonly board: {
      readonly events: Record<never, never>;
      readonly userStatus: { readonly cursor: Field<{ x: number; y: number }>; readonly name: Field<string> };
      readonly roomStatus: Record<never, never>;
    };
  }
>;

/**
 * The app's data: todo lists shared with their members (user ids; the server's rules in
 * rules.json let only members read and change a list and its todos), todos in a list (each
 * document also has `id`, `createdAt`, `updatedAt` and `createdBy`), and a `board` room whose
 * members share a cursor and a display name.
 */
export const schema: TodoSchema = createSchema({
  entities: {
    users: {},
    lists: {
      name: t.string({ fallback: "" }),
      memberIds: t.refMany("users"),
    },
    todos: {
      text: t.string({ fallback: "" }),
      done: t.boolean({ fallback: false }),
      listId: t.ref("lists"),
    },
  },
  rooms: {
    board: {
      events: {},
      userStatus: {
        cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }) }),
        name: t.string({ fallback: "" }),
      },
      roomStatus: {},
    },
  },
});
