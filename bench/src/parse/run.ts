/**
 * The protocol parse benchmark: how long `parseClientMessage` / `parseServerMessage` take on
 * realistic frames (as the server and the client call them), and how long the validation alone
 * takes on values already parsed from JSON (`parseClientValue` / `parseServerValue`).
 *
 * Usage: node dist/parse/run.js [--smoke]
 * Environment: BENCH_PARSE_BASELINE=<path to another build's core dist/index.js> times that
 * build too, interleaved with this one round by round, and prints the ratios; BENCH_PARSE_ROUNDS,
 * BENCH_PARSE_ROUND_MS, SEED.
 */
import { cpus } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as core from "@trellis/core";
import { finishRun, runMain } from "../finish-run.js";
import { formatValue, table } from "../report.js";
import { median } from "../stats.js";
import { type BenchFrame, benchFrames } from "./frames.js";

/** The parse functions of one build of core. */
type Parsers = Pick<typeof core, "parseClientMessage" | "parseServerMessage" | "parseClientValue" | "parseServerValue">;

/** The largest server frame the client accepts (its own limit, not the server's default). */
const CLIENT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

interface Timing {
  readonly frameUs: number;
  readonly valueUs: number;
}

/** Microseconds per call of `body`, over as many calls as fit in `budgetMs` (at least 3). */
function timeCalls(body: () => unknown, budgetMs: number): number {
  let calls = 0;
  const start = performance.now();
  let elapsed: number;
  do {
    body();
    calls++;
    elapsed = performance.now() - start;
  } while (elapsed < budgetMs || calls < 3);
  return (elapsed * 1000) / calls;
}

/** The two timed calls of one frame with one build, each checked to succeed once first. */
function frameBodies(parsers: Parsers, frame: BenchFrame): { frame: () => unknown; value: () => unknown } {
  const bytes = Buffer.from(frame.text);
  const value: unknown = JSON.parse(frame.text);
  const bodies =
    frame.side === "client"
      ? { frame: () => parsers.parseClientMessage(bytes), value: () => parsers.parseClientValue(value) }
      : {
          frame: () => parsers.parseServerMessage(frame.text, { maxBytes: CLIENT_MAX_FRAME_BYTES }),
          value: () => parsers.parseServerValue(value),
        };
  for (const body of [bodies.frame, bodies.value]) {
    const result = body() as core.DatabaseResult<unknown>;
    if (result.error) throw new Error(`${frame.name}: ${result.error.message}`);
  }
  return bodies;
}

async function main(): Promise<number> {
  const isSmoke = process.argv.includes("--smoke") || process.env.BENCH_SMOKE === "1";
  const rounds = Number(process.env.BENCH_PARSE_ROUNDS ?? (isSmoke ? 1 : 9));
  const roundMs = Number(process.env.BENCH_PARSE_ROUND_MS ?? (isSmoke ? 5 : 150));
  const baselinePath = process.env.BENCH_PARSE_BASELINE;
  const builds: Array<{ readonly name: string; readonly parsers: Parsers }> = [{ name: "current", parsers: core }];
  if (baselinePath !== undefined)
    builds.unshift({
      name: "baseline",
      parsers: (await import(pathToFileURL(resolve(baselinePath)).href)) as Parsers,
    });
  const started = performance.now();
  console.log(`Trellis protocol parse benchmark — node ${process.version}, ${cpus().length} x ${cpus()[0]?.model}`);
  console.log(
    `${rounds} rounds of ${roundMs} ms per frame and build, builds interleaved; median µs per call` +
      (baselinePath === undefined ? "" : `; baseline ${baselinePath}`),
  );
  const frames = benchFrames(Number(process.env.SEED ?? 1));
  const results: Array<{ frame: string; side: string; bytes: number } & Record<string, number | string>> = [];
  for (const frame of frames) {
    const bodies = builds.map((build) => frameBodies(build.parsers, frame));
    const samples = builds.map(() => ({ frame: [] as number[], value: [] as number[] }));
    // An untimed round first, so every build runs optimized code when timed.
    for (const body of bodies) {
      timeCalls(body.frame, roundMs);
      timeCalls(body.value, roundMs);
    }
    for (let round = 0; round < rounds; round++) {
      for (const [index, body] of bodies.entries()) {
        samples[index]!.frame.push(timeCalls(body.frame, roundMs));
        samples[index]!.value.push(timeCalls(body.value, roundMs));
      }
    }
    const timings: Timing[] = samples.map((each) => ({ frameUs: median(each.frame), valueUs: median(each.value) }));
    const row: (typeof results)[number] = { frame: frame.name, side: frame.side, bytes: Buffer.byteLength(frame.text) };
    for (const [index, build] of builds.entries()) {
      row[`${build.name}FrameUs`] = timings[index]!.frameUs;
      row[`${build.name}ValueUs`] = timings[index]!.valueUs;
    }
    results.push(row);
  }
  const digits = (us: number) => (us < 10 ? 2 : us < 1000 ? 1 : 0);
  const cell = (value: number | string | undefined) =>
    typeof value === "number" ? formatValue(value, digits(value)) : formatValue(value);
  const ratio = (current: unknown, baseline: unknown) =>
    typeof current === "number" && typeof baseline === "number" ? `${(current / baseline).toFixed(2)}x` : "-";
  const hasBaseline = builds.length > 1;
  const header = hasBaseline
    ? ["frame", "side", "bytes", "frame µs base", "frame µs", "ratio", "validate µs base", "validate µs", "ratio"]
    : ["frame", "side", "bytes", "frame µs", "validate µs"];
  const body = results.map((row) => {
    const head = [row.frame, row.side, formatValue(row.bytes)];
    if (!hasBaseline) return [...head, cell(row.currentFrameUs), cell(row.currentValueUs)];
    return [
      ...head,
      cell(row.baselineFrameUs),
      cell(row.currentFrameUs),
      ratio(row.currentFrameUs, row.baselineFrameUs),
      cell(row.baselineValueUs),
      cell(row.currentValueUs),
      ratio(row.currentValueUs, row.baselineValueUs),
    ];
  });
  console.log(
    "\nframe: parseClientMessage(bytes) / parseServerMessage(text), JSON.parse included; " +
      "validate: parseClientValue / parseServerValue on the parsed value",
  );
  console.log(table(header, body));
  console.log(JSON.stringify({ parse: results }));
  return finishRun({ started, resultsFile: "parse.json", results, busyLoad: 1.6, failures: [] });
}

runMain(main);
