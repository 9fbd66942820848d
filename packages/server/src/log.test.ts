import { describe, expect, it } from "vitest";
import { createLog, type LogOptions } from "./log.js";

/** A log writing to two in-memory streams, at a fixed local time (12:03:04). */
function capture(options: LogOptions = {}, isTTY = false) {
  const out: string[] = [];
  const err: string[] = [];
  const log = createLog({
    stdout: { write: (text: string) => out.push(text), isTTY },
    stderr: { write: (text: string) => err.push(text) },
    now: () => new Date(2026, 0, 2, 12, 3, 4),
    ...options,
  });
  return { log, out, err };
}

describe("createLog", () => {
  it("writes JSON lines when stdout is not a terminal, and text when it is", () => {
    const piped = capture({}, false);
    piped.log("info", "hello", { appId: "todos" });
    expect(JSON.parse(piped.out[0]!)).toEqual({
      time: new Date(2026, 0, 2, 12, 3, 4).toISOString(),
      level: "info",
      msg: "hello",
      appId: "todos",
    });
    const terminal = capture({}, true);
    terminal.log("info", "hello", { appId: "todos" });
    expect(terminal.out).toEqual(["12:03:04 info  hello  appId=todos\n"]);
  });

  it("follows a format it is given over the terminal check", () => {
    const json = capture({ format: "json" }, true);
    json.log("warn", "careful");
    expect(json.err[0]).toMatch(/^\{"time":"[^"]+","level":"warn","msg":"careful"\}\n$/);
    const pretty = capture({ format: "pretty" }, false);
    pretty.log("warn", "careful");
    expect(pretty.err).toEqual(["12:03:04 warn  careful\n"]);
  });

  it("drops lines below its level, and says which: info by default, debug on request", () => {
    expect(createLog().level).toBe("info");
    expect(createLog({ level: "debug" }).level).toBe("debug");
    const normal = capture();
    normal.log("debug", "detail");
    normal.log("info", "news");
    expect(normal.out.map((line) => JSON.parse(line).msg)).toEqual(["news"]);
    const quiet = capture({ level: "warn" });
    quiet.log("info", "news");
    quiet.log("warn", "careful");
    quiet.log("error", "broken");
    expect(quiet.out).toEqual([]);
    expect(quiet.err.map((line) => JSON.parse(line).level)).toEqual(["warn", "error"]);
    const verbose = capture({ level: "debug" });
    verbose.log("debug", "detail");
    expect(verbose.out.map((line) => JSON.parse(line).level)).toEqual(["debug"]);
  });

  it("quotes field values that would read ambiguously in text, and puts multi-line ones below", () => {
    const { log, err } = capture({ format: "pretty" });
    log("error", "A message handler failed", {
      handler: "push",
      note: "two words",
      count: 3,
      missing: undefined,
      error: "Error: boom\n    at f (a.js:1:1)",
    });
    expect(err).toEqual([
      '12:03:04 error A message handler failed  handler=push note="two words" count=3\n  error: Error: boom\n        at f (a.js:1:1)\n',
    ]);
  });
});
