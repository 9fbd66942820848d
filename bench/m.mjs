import { createClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
const schema = createSchema({ entities: { todos: { title: t.string({ fallback: "" }), tag: t.string({ fallback: "" }), priority: t.number({ fallback: 0 }), done: t.boolean({ fallback: false }) } } });
const N = Number(process.env.N ?? 100000);
const docs = Array.from({ length: N }, (_, i) => ({ title: `todo ${i}`, tag: `tag${i % 20}`, priority: i % 10, done: i % 3 === 0 }));
async function run(mode) {
  const client = createClient({ schema });
  globalThis.gc?.();
  const start = performance.now(); const cpu0 = process.cpuUsage();
  if (mode === "many") { const r = await client.database.todos.createMany(docs); if (r.error) throw r.error; }
  else if (mode === "count") { const r = await client.database.todos.createMany(docs, { returnDocuments: false }); if (r.error) throw r.error; }
  else if (mode === "loop") { for (const d of docs) { const r = await client.database.todos.create(d); if (r.error) throw r.error; } }
  const c = process.cpuUsage(cpu0); const wall = performance.now() - start; await client.close();
  return [wall, (c.user + c.system) / 1000];
}
const modes = (process.argv[2] ?? "many,count,loop").split(",");
for (const m of modes) await run(m);
const times = Object.fromEntries(modes.map((m) => [m, []]));
for (let i = 0; i < Number(process.env.REPS ?? 3); i++) for (const m of modes) times[m].push(await run(m));
for (const m of modes) console.log(m.padEnd(6), times[m].map(([w, c]) => `${w.toFixed(0)}/${c.toFixed(0)}`).join(" "));
