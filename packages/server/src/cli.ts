#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { appsCommand } from "./apps/apps-command.js";
import type { ServerLimits } from "./limits.js";
import { createServer } from "./server.js";

const USAGE = `Usage: trellis-server [--port 8787] [--host 127.0.0.1] [--data ./data] [--jwt-secret SECRET]
                      [--room-rate 200] [--room-burst 400] [--allow-origin ORIGIN]… [--limit NAME=VALUE]…
                      [--permissions rules.json] [--admin-secret SECRET]

  --port          TCP port to listen on (0 picks a free one)        default 8787
  --host          interface to listen on                            default 127.0.0.1
  --data          folder for the SQLite databases, one per app id   default ./data
  --jwt-secret    HS256 secret for client tokens (or TRELLIS_JWT_SECRET);
                  without it the server runs in development mode and trusts claimed user ids
  --room-rate     room messages a connection may send per second    default 200
  --room-burst    room messages a connection may send at once       default 400
  --allow-origin  a browser origin allowed to connect ("https://app.example.com", "loopback" or "*");
                  repeat for several                                default: loopback in development mode, * with auth
  --limit         one of the server's limits, e.g. --limit connectionsPerIp=200 (see docs/server.md, "Limits");
                  repeat for several
  --permissions   a JSON file of rules saying who may read and write what (see docs/permissions.md);
                  without it every user may do everything
  --admin-secret  secret of the admin API, 16+ characters (or TRELLIS_ADMIN_SECRET); with it only apps
                  created through that API (or found in --data) are served (see docs/admin.md);
                  without it any app id works and makes a new app

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
    help?: boolean;
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
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    return fatal(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return fatal(`--port must be a whole number from 0 to 65535, got ${values.port}.`);
  const messagesPerSecond = Number(values["room-rate"] ?? 200);
  const burst = Number(values["room-burst"] ?? 400);
  for (const [flag, value] of [["--room-rate", messagesPerSecond], ["--room-burst", burst]] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) return fatal(`${flag} must be a positive whole number, got ${values[flag.slice(2) as "room-rate"]}.`);
  }
  const limits: Record<string, number> = {};
  for (const entry of values.limit ?? []) {
    const match = /^([A-Za-z]+)=(\d+)$/.exec(entry);
    if (!match) return fatal(`--limit takes NAME=VALUE with a whole number, such as --limit connectionsPerIp=200; got ${JSON.stringify(entry)}.`);
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
      port,
      host: values.host ?? "127.0.0.1",
      dataDir: values.data ?? "./data",
      rooms: { messagesPerSecond, burst },
      limits: limits as ServerLimits,
      ...(permissions === undefined ? {} : { permissions }),
      ...(values["allow-origin"] === undefined ? {} : { allowOrigins: values["allow-origin"] }),
      ...(jwtSecret === undefined ? {} : { auth: { jwtSecret } }),
      ...(adminSecret === undefined ? {} : { adminSecret }),
    });
  } catch (error) {
    return fatal((error as Error).message);
  }
  const stop = (signal: string) => {
    console.log(`Received ${signal}; closing connections and databases…`);
    void server.close().then(() => process.exit(0));
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  // Printed once the signal handlers are in place: whoever waits for this line may stop us at once.
  console.log(`Trellis sync server listening on ${server.url}`);
}

function fatal(message: string): void {
  console.error(`trellis-server: ${message}`);
  process.exit(1);
}

void main();
