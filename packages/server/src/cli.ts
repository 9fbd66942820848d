#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { appsCommand } from "./apps/apps-command.js";
import type { ServerLimits } from "./limits.js";
import { createLog, LOG_FORMATS, LOG_LEVELS } from "./log.js";
import { createServer } from "./server.js";

const USAGE = `Usage: trellis-server [--port 8787] [--host 127.0.0.1] [--data ./data] [--jwt-secret SECRET]
                      [--room-rate 200] [--room-burst 400] [--allow-origin ORIGIN]… [--limit NAME=VALUE]…
                      [--permissions rules.json] [--admin-secret SECRET]
                      [--log-level debug|info|warn|error] [--log-format json|pretty]

  --port          TCP port to listen on, 0 picks a free one (or PORT)       default 8787
  --host          interface to listen on (or HOST)                         default 127.0.0.1
  --data          folder for the SQLite databases, one per app id
                  (or TRELLIS_DATA)                                        default ./data
  --jwt-secret    HS256 secret for client tokens (or TRELLIS_JWT_SECRET);
                  without it the server runs in development mode and trusts claimed user ids
  --room-rate     room messages a connection may send per second           default 200
  --room-burst    room messages a connection may send at once              default 400
  --allow-origin  a browser origin allowed to connect ("https://app.example.com", "loopback" or "*");
                  repeat for several                    default: loopback in development mode, * with auth
  --limit         one of the server's limits, e.g. --limit connectionsPerIp=200 (see docs/server.md, "Limits");
                  repeat for several
  --permissions   a JSON file of rules saying who may read and write what (see docs/permissions.md);
                  without it every user may do everything
  --admin-secret  secret of the admin API, 16+ characters (or TRELLIS_ADMIN_SECRET); with it only apps
                  created through that API (or found in --data) are served (see docs/admin.md);
                  without it any app id works and makes a new app
  --log-level     debug, info, warn or error: the least severe lines logged
                  (or TRELLIS_LOG_LEVEL)                                   default info
  --log-format    json (one object per line) or pretty (text for a person)
                  (or TRELLIS_LOG_FORMAT)                    default pretty on a terminal, else json
  -v, --version   print the version and exit

       trellis-server apps list|create NAME   list or create apps of a running server (see --help there)`;

async function main(): Promise<void> {
  if (process.argv[2] === "apps") {
    process.exitCode = await appsCommand(process.argv.slice(3));
    return;
  }
  let values: {
    port?: string;
    host?: string;
    data?: string;
    "jwt-secret"?: string;
    "admin-secret"?: string;
    "room-rate"?: string;
    "room-burst"?: string;
    "allow-origin"?: string[];
    permissions?: string;
    limit?: string[];
    "log-level"?: string;
    "log-format"?: string;
    help?: boolean;
    version?: boolean;
  };
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string" },
        host: { type: "string" },
        data: { type: "string" },
        "jwt-secret": { type: "string" },
        "admin-secret": { type: "string" },
        "room-rate": { type: "string" },
        "room-burst": { type: "string" },
        "allow-origin": { type: "string", multiple: true },
        limit: { type: "string", multiple: true },
        permissions: { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    }));
  } catch (error) {
    return fatal(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.version) {
    console.log(packageVersion());
    return;
  }
  const log = createLog({
    level: oneOf(setting(values["log-level"], "--log-level", "TRELLIS_LOG_LEVEL"), LOG_LEVELS),
    format: oneOf(setting(values["log-format"], "--log-format", "TRELLIS_LOG_FORMAT"), LOG_FORMATS),
  });
  const port = setting(values.port, "--port", "PORT");
  // Digits only: Number() would read "" and " " as 0, a random port.
  if (port !== undefined && !(/^\d{1,5}$/.test(port.value) && Number(port.value) <= 65535))
    return fatal(`${port.from} must be a whole number from 0 to 65535, got ${JSON.stringify(port.value)}.`);
  const host = setting(values.host, "--host", "HOST");
  if (host !== undefined && host.value.trim() === "")
    return fatal(`${host.from} must name an interface, such as 127.0.0.1 or 0.0.0.0; it is empty.`);
  const data = setting(values.data, "--data", "TRELLIS_DATA");
  if (data !== undefined && data.value === "") return fatal(`${data.from} must name a folder; it is empty.`);
  const messagesPerSecond = Number(values["room-rate"] ?? 200);
  const burst = Number(values["room-burst"] ?? 400);
  for (const [flag, value] of [
    ["--room-rate", messagesPerSecond],
    ["--room-burst", burst],
  ] as const) {
    if (!Number.isSafeInteger(value) || value <= 0)
      return fatal(`${flag} must be a positive whole number, got ${values[flag.slice(2) as "room-rate"]}.`);
  }
  const limits: Record<string, number> = {};
  for (const entry of values.limit ?? []) {
    const match = /^([A-Za-z]+)=(\d+)$/.exec(entry);
    if (!match)
      return fatal(
        `--limit takes NAME=VALUE with a whole number, such as --limit connectionsPerIp=200; got ${JSON.stringify(entry)}.`,
      );
    limits[match[1]!] = Number(match[2]);
  }
  let permissions: unknown;
  if (values.permissions !== undefined) {
    try {
      permissions = JSON.parse(readFileSync(values.permissions, "utf8"));
    } catch (error) {
      return fatal(`--permissions ${values.permissions}: ${(error as Error).message}`);
    }
  }
  const jwtSecret = values["jwt-secret"] ?? process.env.TRELLIS_JWT_SECRET;
  const adminSecret = values["admin-secret"] ?? process.env.TRELLIS_ADMIN_SECRET;
  let server;
  try {
    server = await createServer({
      port: port === undefined ? 8787 : Number(port.value),
      host: host?.value ?? "127.0.0.1",
      dataDir: data?.value ?? "./data",
      rooms: { messagesPerSecond, burst },
      limits: limits as ServerLimits,
      log,
      ...(permissions === undefined ? {} : { permissions }),
      ...(values["allow-origin"] === undefined ? {} : { allowOrigins: values["allow-origin"] }),
      ...(jwtSecret === undefined ? {} : { auth: { jwtSecret } }),
      ...(adminSecret === undefined ? {} : { adminSecret }),
    });
  } catch (error) {
    return fatal((error as Error).message);
  }
  const stop = (signal: string) => {
    log("info", `Received ${signal}; closing connections and databases…`);
    void server.close().then(() => process.exit(0));
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  // Printed once the signal handlers are in place: whoever waits for this line may stop us at once.
  // Plain text whatever the log's level and format, so that scripts can wait for it.
  console.log(`Trellis sync server listening on ${server.url}`);
}

interface Setting {
  readonly value: string;
  /** The flag or environment variable it came from. */
  readonly from: string;
}

/**
 * A setting from its flag, else from its environment variable (set but empty counts: it is
 * refused like an empty flag rather than silently replaced by the default), with the name to
 * quote when it is wrong.
 */
function setting(flagValue: string | undefined, flag: string, variable: string): Setting | undefined {
  if (flagValue !== undefined) return { value: flagValue, from: flag };
  const value = process.env[variable];
  return value === undefined ? undefined : { value, from: variable };
}

/** The setting's value if it is one of `allowed`; exits with a message naming them otherwise. */
function oneOf<T extends string>(found: Setting | undefined, allowed: readonly T[]): T | undefined {
  if (found === undefined) return undefined;
  const match = allowed.find((choice) => choice === found.value);
  return match ?? fatal(`${found.from} must be one of ${allowed.join(", ")}; got ${JSON.stringify(found.value)}.`);
}

/** The version in this package's package.json, one folder up from both src/ and dist/. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

function fatal(message: string): never {
  console.error(`trellis-server: ${message}`);
  process.exit(1);
}

void main();
