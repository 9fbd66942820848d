import { createSchema, type FieldDef, type Schema, t } from "@trellis/core";

/**
 * The takeover benchmark's entities, spelled out: the repository's typecheck emits declarations,
 * and those cannot name the field types `t` infers.
 */
type TakeoverEntities = { readonly todos: { readonly title: FieldDef<string, false, true> } };

/** The takeover benchmark's app: one collection of todos (the page's tabs and the outside client share it). */
export const schema: Schema<TakeoverEntities> = createSchema({
  entities: { todos: { title: t.string({ fallback: "" }) } },
});
