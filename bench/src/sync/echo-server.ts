/**
 * Child process: a plain `ws` server, the floor of what any WebSocket sync server can do on this
 * machine. A frame starting with "b" is broadcast to every other socket (the fan-out floor); one
 * starting with "d" is first committed to SQLite as the Trellis server commits a change (one
 * last-writer-wins upsert, WAL, `synchronous = FULL`), then broadcast (the floor of any server
 * that makes a change durable before others see it); any other frame is echoed back (the
 * round-trip floor).
 *
 * Usage: forked by the runner; op `start` answers the port it listens on (127.0.0.1).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocketServer } from "ws";
import { openFloorDatabase } from "./ingest.js";
import { serve } from "./ipc.js";

const BROADCAST = 0x62; // "b"
const DURABLE_BROADCAST = 0x64; // "d"

function durableStore(): (text: string) => void {
  const dir = mkdtempSync(join(tmpdir(), "trellis-bench-echo-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const db = openFloorDatabase(dir);
  const upsert = db.prepare(
    `INSERT INTO triples (collection, id, field, element, value, hlc, seq) VALUES ('fans', 'f0', 'n', '', ?, ?, ?)
     ON CONFLICT (collection, id, field, element) DO UPDATE SET value = excluded.value, hlc = excluded.hlc, seq = excluded.seq
     WHERE excluded.hlc > triples.hlc`,
  );
  let seq = 0;
  const commit = db.transaction((text: string) => {
    seq++;
    upsert.run(text, String(seq).padStart(12, "0"), seq);
  });
  return commit;
}

serve({
  start: () =>
    new Promise<number>((resolve) => {
      const store = durableStore();
      const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
      server.on("connection", (socket) => {
        socket.on("message", (data, isBinary) => {
          const first = (data as Buffer)[0];
          if (isBinary || (first !== BROADCAST && first !== DURABLE_BROADCAST))
            return socket.send(data, { binary: isBinary });
          const text = data.toString();
          if (first === DURABLE_BROADCAST) store(text);
          for (const other of server.clients) if (other !== socket) other.send(text);
        });
      });
      server.on("listening", () => resolve((server.address() as { port: number }).port));
    }),
});
