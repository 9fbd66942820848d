/** Severity of a log line. */
export type LogLevel = "info" | "warn" | "error";

/** Where the server writes what it does: one structured entry per call. */
export type Log = (level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>) => void;

/**
 * The default log: one JSON object per line (`time`, `level`, `msg`, fields), info on stdout,
 * warnings and errors on stderr, ready for a log collector.
 *
 * @example jsonLog("info", "listening", { url }) // {"time":"…","level":"info","msg":"listening","url":"…"}
 */
export const jsonLog: Log = (level, message, fields) => {
  const line = `${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields })}\n`;
  (level === "info" ? process.stdout : process.stderr).write(line);
};
