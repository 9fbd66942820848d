import { createSchema, t } from "@trellis/core";

/** The takeover benchmark's app: one collection of todos (the page's tabs and the outside client share it). */
export const schema = createSchema({ entities: { todos: { title: t.string({ fallback: "" }) } } });
