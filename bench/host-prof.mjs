import { startServerProcess, removeDataDir } from "@trellis/server/testing";
import { createClient } from "@trellis/client";
import { syncSchema } from "./dist/sync/schema.js";
const server = await startServerProcess();
const appId = "hp";
let ids = 0;
const writer = createClient({ schema: syncSchema, appId, serverUrl: server.url, userId: "w", generateId: () => `d${ids++}` });
const seeded = await writer.database.batch.execute(Array.from({ length: 20 }, (_, i) => writer.database.batch.items.create({ n: -1, title: `item ${i}` })));
const observers = [];
let seen = 0; let waiting;
for (let i = 0; i < 50; i++) {
  const c = createClient({ schema: syncSchema, appId, serverUrl: server.url, userId: `o${i}` });
  let max = -1;
  await new Promise((resolve) => c.database.items.subscribe({}, (docs, e, loading) => {
    if (loading || !docs) return;
    if (docs.length >= 20) resolve();
    let m = max; for (const d of docs) if (d.n > m) m = d.n;
    if (m > max) { max = m; if (++seen === 50) waiting?.(); }
  }));
  observers.push(c);
}
const t0 = performance.now();
const per = [];
for (let k = 0; k < 1000; k++) {
  seen = 0;
  const all = new Promise((r) => (waiting = r));
  const s = performance.now();
  await writer.database.items.update({ id: `d${k % 20}`, fields: { n: k } });
  await all;
  per.push(performance.now() - s);
  await new Promise((r) => setTimeout(r, 2));
}
per.sort((a, b) => a - b);
console.log("all 50 observers in one process: p50", per[500].toFixed(3), "ms; per observer ~", (per[500] / 50 * 1000).toFixed(1), "us");
await Promise.all([writer, ...observers].map((c) => c.close()));
await server.stop(); removeDataDir(server.dataDir);
