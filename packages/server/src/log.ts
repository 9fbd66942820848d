/** Severity of a log line, from the most detailed to the most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The log levels in order: a log set to one writes it and those after it. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** How log lines look: one JSON object per line for a collector, or aligned text for a person. */
export type LogFormat = "json" | "pretty";

/** The log formats, as `--log-format` takes them. */
export const LOG_FORMATS: readonly LogFormat[] = ["json", "pretty"];

/**
 * Where the server writes what it does: one structured entry per call. Any function will do; it
 * gets info and up, and debug entries too if it says `level: "debug"` (as `createLog`'s logs do),
 * since those cost the server work on every request.
 */
export interface Log {
  (level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>): void;
  /** The least severe level this log writes. */
  readonly level?: LogLevel;
}

/** A stream a log writes to, such as `process.stdout`. */
export interface LogStream {
  write(text: string): unknown;
  /** True when a terminal shows the stream (Node sets it on `process.stdout`). */
  readonly isTTY?: boolean;
}

/** Options of {@link createLog}. */
export interface LogOptions {
  /** The least severe level written; lines below it are dropped. Default "info". */
  readonly level?: LogLevel;
  /** Default: "pretty" when `stdout` is a terminal, "json" otherwise. */
  readonly format?: LogFormat;
  /** Debug and info lines go here. Default `process.stdout`. */
  readonly stdout?: LogStream;
  /** Warnings and errors go here. Default `process.stderr`. */
  readonly stderr?: LogStream;
  /** The clock stamping each line. Default `() => new Date()`. */
  readonly now?: () => Date;
}

/**
 * A log for `createServer`'s `log` option (the server's default is `createLog()`). JSON lines
 * carry `time` (ISO 8601), `level`, `msg` and the fields; pretty lines read
 * `12:03:04 warn  message  key=value`, with multi-line values (stacks) indented below.
 *
 * @example
 * const server = await createServer({ dataDir: "./data", log: createLog({ level: "debug", format: "json" }) });
 * // {"time":"2026-01-02T12:03:04.000Z","level":"debug","msg":"WebSocket connected","address":"127.0.0.1","connections":1}
 */
export function createLog(options: LogOptions = {}): Log {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const now = options.now ?? (() => new Date());
  const least = options.level ?? "info";
  const line = (options.format ?? defaultLogFormat(stdout)) === "json" ? jsonLine : prettyLine;
  const log = (level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>) => {
    if (LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(least)) return;
    (level === "debug" || level === "info" ? stdout : stderr).write(line(now(), level, message, fields));
  };
  return Object.assign(log, { level: least });
}

/**
 * The format a log takes unless told: text for a person watching a terminal, JSON lines when the
 * output goes to a file, a pipe or a container's log driver.
 */
function defaultLogFormat(stdout: LogStream): LogFormat {
  return stdout.isTTY === true ? "pretty" : "json";
}

function jsonLine(time: Date, level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>): string {
  return `${JSON.stringify({ time: time.toISOString(), level, msg: message, ...fields })}\n`;
}

function prettyLine(time: Date, level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>): string {
  const clock = [time.getHours(), time.getMinutes(), time.getSeconds()]
    .map((part) => String(part).padStart(2, "0"))
    .join(":");
  const inline: string[] = [];
  const below: string[] = [];
  for (const [key, value] of Object.entries(fields ?? {})) {
    // As in the JSON lines, where JSON.stringify leaves undefined fields out.
    if (value === undefined) continue;
    if (typeof value === "string" && value.includes("\n")) below.push(`  ${key}: ${value.replaceAll("\n", "\n    ")}`);
    else inline.push(`${key}=${prettyValue(value)}`);
  }
  const head = `${clock} ${level.padEnd(5)} ${message}${inline.length === 0 ? "" : `  ${inline.join(" ")}`}`;
  return `${[head, ...below].join("\n")}\n`;
}

/** Bare when it reads unambiguously after `key=`, JSON otherwise. */
function prettyValue(value: unknown): string {
  if (typeof value === "string" && /^[^\s"=]+$/.test(value)) return value;
  return JSON.stringify(value) ?? String(value);
}
