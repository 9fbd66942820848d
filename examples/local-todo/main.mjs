// `npm start`: a Trellis sync server on ./data (development mode, with the React example's
// permission rules) and two terminal clients that sync a live todo list through it: alice
// shares a list with bob. The server keeps running for your own clients until Ctrl+C; with
// --web (as `npm start` runs it) it also serves the React example, examples/react-todo.
import { readFileSync } from "node:fs";
import { createClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { createServer } from "@trellis/server";

const schema = createSchema({
  entities: {
    users: {},
    lists: { name: t.string({ fallback: "" }), memberIds: t.refMany("users") },
    todos: {
      text: t.string({ fallback: "" }),
      done: t.boolean({ fallback: false }),
      priority: t.number({ fallback: 0 }),
      listId: t.ref("lists"),
    },
  },
});

/** Who may read and write what: a list and its todos, its members (examples/react-todo/rules.json). */
const rulesFile = new URL("../react-todo/rules.json", import.meta.url);
const permissions = JSON.parse(readFileSync(rulesFile, "utf8"));

const once = process.argv.includes("--once");
const dataDir = process.env.TRELLIS_DATA ?? "./data";
const log = (level, message) => level !== "info" && console.log(`[server ${level}] ${message}`);

// Ctrl+C is how the demo ends, so it exits 0 (npm then reports no failure) once what runs is
// closed. The signal comes twice under `npm start` (from the terminal and forwarded by npm), so
// a repeat is ignored; a close that hangs does not keep the process.
const running = [];
let isStopping = false;
const stop = () => {
  if (isStopping) return;
  isStopping = true;
  console.log("\nStopped the Trellis demo. Bye!");
  setTimeout(() => process.exit(0), 2000).unref();
  void Promise.allSettled(running.map((close) => close())).then(() => process.exit(0));
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

const server = await startServer(Number(process.env.PORT ?? 8787));
running.push(() => server.close());

// Alice shares a list with Bob and writes; Bob watches its open todos through the server.
const alice = createClient({ schema, appId: "demo", serverUrl: server.url, userId: "alice" });
const bob = createClient({ schema, appId: "demo", serverUrl: server.url, userId: "bob" });
const DEMO_TODOS = ["buy milk", "write docs", "ship Trellis"];
// The list stays in the data folder: a later run reuses it and first deletes the todos the demo
// wrote there before (others stay), so the folder holds one demo list however often it runs.
const earlier = await firstAnswer(alice.database.lists, {
  where: { name: "demo", memberIds: { equals: "bob" } },
  limit: 1,
});
let list = earlier.rows[0];
earlier.unsubscribe();
if (list === undefined)
  ({ data: list } = await alice.database.lists.create({ name: "demo", memberIds: ["alice", "bob"] }));
else {
  const where = { listId: list.id, text: { in: DEMO_TODOS } };
  const leftovers = await firstAnswer(alice.database.todos, { where });
  await alice.database.todos.deleteMany({ where });
  await settled(alice);
  leftovers.unsubscribe();
  console.log(`Replaying the demo on its list from an earlier run (data in ${dataDir}).`);
}
let bobLoaded;
const bobHasLoaded = new Promise((resolve) => (bobLoaded = resolve));
const bobSees = bob.database.todos.subscribe(
  {
    fields: { text: true, priority: true },
    where: { listId: list.id, done: false },
    orderBy: [
      ["priority", "desc"],
      ["text", "asc"],
    ],
    limit: 5,
  },
  (open, error, loading) => {
    if (error) return console.error("bob:", error.message);
    if (loading) return;
    bobLoaded();
    console.log(
      `bob sees ${open.length} open:`,
      open.map((todo) => `${todo.text} [p${todo.priority}]`).join(", ") || "none",
    );
  },
);
await bobHasLoaded;

// Each step waits until the server has it and Bob is up to date, so his list prints once per step.
const todos = alice.database.todos;
const step = async (write) => {
  await write();
  await settled(alice);
  await settled(bob);
};
let milk;
await step(
  async () => ({ data: milk } = await todos.create({ text: "buy milk", done: false, priority: 1, listId: list.id })),
);
await step(() => todos.create({ text: "write docs", done: false, priority: 5, listId: list.id }));
await step(() => todos.create({ text: "ship Trellis", done: false, priority: 9, listId: list.id }));
await step(() => todos.update({ id: milk.id, fields: (previous) => ({ priority: previous.priority + 10 }) }));
await step(() => todos.updateMany({ where: { text: { startsWith: "ship" } }, fields: { done: true } }));
await step(() => todos.deleteMany({ where: { listId: list.id, done: true } }));
bobSees.unsubscribe();
await Promise.all([alice.close(), bob.close()]);

console.log(`\nTrellis sync server: ${server.url} (development mode, data in ${dataDir})`);
console.log(`Permission rules: examples/react-todo/rules.json (lists and their todos; anything else is denied).`);
console.log(`Connect a client with createClient({ schema, appId: "demo", serverUrl: "${server.url}" }).`);
if (once) await server.close();
else {
  // --web (npm start): also build and serve the React example, synced through this server.
  if (process.argv.includes("--web")) {
    const web = await serveWeb(server.url);
    running.push(() => web.close());
  }
  console.log("Press Ctrl+C to stop.");
}

async function serveWeb(serverUrl) {
  const { serveReactTodo } = await import("../react-todo/serve.mjs");
  const web = await serveReactTodo({ serverUrl, port: Number(process.env.WEB_PORT ?? 5173) });
  console.log(`\nReact todo app (examples/react-todo): ${web.url}`);
  console.log(`Open it in two windows, e.g. ${web.url}?user=alice and ${web.url}?user=bob.`);
  return web;
}

async function startServer(port) {
  try {
    return await createServer({ port, dataDir, log, permissions });
  } catch (error) {
    if (!/already in use/.test(error.message)) throw error;
    console.warn(`Port ${port} is taken; using a free one.`);
    return createServer({ port: 0, dataDir, log, permissions });
  }
}

/** The query's first result from the server; its subscription stays until `unsubscribe()`. */
function firstAnswer(collection, query) {
  return new Promise((resolve, reject) => {
    const subscription = collection.subscribe(query, (rows, error, loading) => {
      if (error) reject(error);
      else if (!loading) resolve({ rows, unsubscribe: () => subscription.unsubscribe() });
    });
  });
}

/** Resolves once the client is online with nothing left to push. */
function settled(client) {
  return new Promise((resolve) => {
    const check = ({ state, pending }) => state === "online" && pending === 0 && (stop(), resolve());
    const stop = client.connection.subscribe(check);
    check(client.connection.getCurrentState());
  });
}
