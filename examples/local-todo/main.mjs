// A local-only Trellis client in the terminal: a live query that prints whenever its result changes.
import { createClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";

const schema = createSchema({
  entities: {
    todos: {
      text: t.string({ fallback: "" }),
      done: t.boolean({ fallback: false }),
      priority: t.number({ fallback: 0 }),
    },
  },
});

const client = createClient({ schema, userId: "demo" });
const todos = client.database.todos;

const subscription = todos.subscribe(
  { fields: { text: true, priority: true }, where: { done: false }, orderBy: [["priority", "desc"], ["text", "asc"]] },
  (open) => console.log(`open todos (${open.length}):`, open.map((todo) => `${todo.text} [p${todo.priority}]`).join(", ") || "none"),
);

const { data: milk } = await todos.create({ text: "buy milk", done: false, priority: 1 });
await todos.create({ text: "write docs", done: false, priority: 5 });
await todos.create({ text: "ship Trellis", done: false, priority: 9 });
await todos.update({ id: milk.id, fields: (previous) => ({ priority: previous.priority + 10 }) });
await todos.updateMany({ where: { text: { startsWith: "ship" } }, fields: { done: true } });

const { data: counts } = await todos.query({ where: { done: true } });
console.log(`done: ${counts.length}`);
subscription.unsubscribe();
await client.close();
console.log("\nThis demo runs a local-only client. The sync server and the browser example app arrive with later issues (see README).");
