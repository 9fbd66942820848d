/**
 * Initial load of a large query over HTTP: `POST /v1/query` for every document of `loads` (the
 * documents the ingest phase stored), read raw and parsed, and through a Trellis client's
 * `preload` (request, answer checked by the protocol parser, applied to the local store, result
 * built).
 */
import { createClient } from "@trellis/client";
import { median } from "../stats.js";
import { everyDocument, syncSchema } from "./schema.js";

export interface LoadResult {
  readonly docs: number;
  readonly runs: number;
  readonly medianMs: number;
  /** Size of the answer's body. */
  readonly mb: number;
}

/** `fetch` of the answer to the end of its body, then `JSON.parse`, timed apart. */
export async function rawHttpLoad(
  serverUrl: string,
  appId: string,
  docs: number,
  runs: number,
): Promise<{ fetched: LoadResult; parsed: LoadResult }> {
  const body = JSON.stringify({ appId, query: everyDocument("loads"), cursor: null });
  const fetchTimes: number[] = [];
  const totalTimes: number[] = [];
  let bytes = 0;
  // One untimed run first: the server's live view and the JIT warm up.
  for (let run = 0; run <= runs; run++) {
    const start = performance.now();
    const response = await fetch(`${serverUrl}/v1/query`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const text = await response.text();
    const fetched = performance.now();
    const answer = JSON.parse(text) as { triples?: Array<{ id: string }>; error?: { message: string } };
    const parsed = performance.now();
    if (answer.triples === undefined)
      throw new Error(`POST /v1/query answered ${response.status}: ${answer.error?.message ?? text.slice(0, 200)}`);
    const ids = new Set(answer.triples.map((each) => each.id));
    if (ids.size !== docs) throw new Error(`POST /v1/query returned ${ids.size} documents, expected ${docs}`);
    bytes = Buffer.byteLength(text);
    if (run === 0) continue;
    fetchTimes.push(fetched - start);
    totalTimes.push(parsed - start);
  }
  const mb = bytes / 1e6;
  return {
    fetched: { docs, runs, medianMs: median(fetchTimes), mb },
    parsed: { docs, runs, medianMs: median(totalTimes), mb },
  };
}

/** `client.database.loads.preload({})` in a fresh client each run. */
export async function clientPreload(serverUrl: string, appId: string, docs: number, runs: number): Promise<LoadResult> {
  const times: number[] = [];
  let bytes = 0;
  for (let run = 0; run <= runs; run++) {
    const client = createClient({ schema: syncSchema, appId, serverUrl, userId: "loader" });
    try {
      const start = performance.now();
      const preloaded = await client.database.loads.preload({});
      const ms = performance.now() - start;
      if (preloaded.error) throw preloaded.error;
      const count = preloaded.data.data.length;
      if (count !== docs) throw new Error(`preload returned ${count} documents, expected ${docs}`);
      bytes = Buffer.byteLength(JSON.stringify(preloaded.data.triples));
      if (run > 0) times.push(ms);
    } finally {
      await client.close();
    }
  }
  return { docs, runs, medianMs: median(times), mb: bytes / 1e6 };
}
