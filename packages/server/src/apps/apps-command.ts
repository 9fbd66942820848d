import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

export const APPS_USAGE = `Usage: trellis-server apps list [--url URL] [--json]
       trellis-server apps create NAME [--url URL] [--json]
       trellis-server apps delete ID --yes [--url URL] [--json]   (deletes the app's data for good)
       trellis-server apps permissions get ID [--url URL] [--json]
       trellis-server apps permissions set ID RULES.json [--url URL] [--json]
       trellis-server apps permissions clear ID [--url URL] [--json]   (back to the server's rules)
       trellis-server apps keys list ID [--url URL] [--json]
       trellis-server apps keys create ID NAME [--url URL] [--json]   (prints the key once)
       trellis-server apps keys revoke ID KEY_ID [--url URL] [--json]

  Talks to a running server's admin API (docs/admin.md) with the admin secret from
  TRELLIS_ADMIN_SECRET (or --admin-secret).
  --url           the server                                         default http://127.0.0.1:8787
  --json          print the API's JSON answer instead of text`;

interface App {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
}

interface AppRules {
  readonly appId: string;
  readonly source: "app" | "server" | "none";
  readonly rules: unknown;
}

/** One admin API call and how its answer reads as text. */
interface Call {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /** Below `/v1/admin/apps`. */
  readonly path: string;
  readonly body?: unknown;
  readonly print: (answer: any, url: string) => void;
}

/**
 * `trellis-server apps …`: lists, creates and deletes apps, and sets their permission rules and
 * service keys, through a running server's admin API, and prints the result (text, or `--json`). Resolves to
 * the process's exit code; what went wrong is printed to stderr.
 *
 * @example
 * process.exitCode = await appsCommand(["create", "Todo app", "--url", "http://127.0.0.1:8787"]);
 */
export async function appsCommand(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        url: { type: "string" },
        json: { type: "boolean" },
        yes: { type: "boolean" },
        "admin-secret": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    return failed(`${(error as Error).message}\n\n${APPS_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(APPS_USAGE);
    return 0;
  }
  const call = callOf(positionals, values.yes === true);
  if (typeof call === "string") return failed(call);
  const secret = values["admin-secret"] ?? env.TRELLIS_ADMIN_SECRET;
  if (secret === undefined || secret === "")
    return failed("set TRELLIS_ADMIN_SECRET (or pass --admin-secret) to the server's admin secret.");
  const url = (values.url ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
  let response: Response;
  try {
    response = await fetch(`${url}/v1/admin/apps${call.path}`, {
      method: call.method,
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
    });
  } catch (error) {
    return failed(
      `could not reach ${url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`,
    );
  }
  const answer = (await response.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
  if (!response.ok)
    return failed(`${url} answered ${response.status}: ${answer?.error?.message ?? response.statusText}`);
  if (values.json) console.log(JSON.stringify(answer, null, 2));
  else call.print(answer, url);
  return 0;
}

/** The admin API call a command line asks for, or what is wrong with it. */
function callOf(positionals: readonly string[], isConfirmed: boolean): Call | string {
  const [action, ...rest] = positionals;
  const usage = (problem: string) => `${problem}\n\n${APPS_USAGE}`;
  switch (action) {
    case "list":
      if (rest.length > 0) return usage("apps list takes no names.");
      return { method: "GET", path: "", print: printApps };
    case "create":
      if (rest.length !== 1) return usage("apps create takes one name (quote a name with spaces).");
      return {
        method: "POST",
        path: "",
        body: { name: rest[0] },
        print: (app: App, url) => {
          console.log(`Created app "${app.name}" with id ${app.id}.`);
          console.log(`Connect a client with createClient({ schema, appId: "${app.id}", serverUrl: "${url}" }).`);
        },
      };
    case "delete":
      if (rest.length !== 1) return usage("apps delete takes one app id.");
      if (!isConfirmed) return `deleting app ${rest[0]} removes its data for good; add --yes to do it.`;
      return {
        method: "DELETE",
        path: `/${encodeURIComponent(rest[0]!)}?confirm=true`,
        print: () => console.log(`Deleted app ${rest[0]} and its data.`),
      };
    case "permissions":
      return permissionsCall(rest, usage);
    case "keys":
      return keysCall(rest, usage);
    default:
      return usage(`unknown command ${JSON.stringify(action ?? "")}.`);
  }
}

function permissionsCall(
  [verb, id, file, ...extra]: readonly string[],
  usage: (problem: string) => string,
): Call | string {
  const path = `/${encodeURIComponent(id ?? "")}/permissions`;
  if (verb === "get" || verb === "clear") {
    if (id === undefined || file !== undefined) return usage(`apps permissions ${verb} takes one app id.`);
    return { method: verb === "get" ? "GET" : "DELETE", path, print: printRules };
  }
  if (verb !== "set") return usage(`unknown command "permissions ${verb ?? ""}" (expected get, set or clear).`);
  if (id === undefined || file === undefined || extra.length > 0)
    return usage("apps permissions set takes an app id and a rules file.");
  let rules: unknown;
  try {
    rules = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    return `could not read rules from ${file}: ${(error as Error).message}`;
  }
  return { method: "PUT", path, body: rules, print: printRules };
}

function keysCall([verb, id, third, ...extra]: readonly string[], usage: (problem: string) => string): Call | string {
  const path = `/${encodeURIComponent(id ?? "")}/keys`;
  if (verb === "list") {
    if (id === undefined || third !== undefined) return usage("apps keys list takes one app id.");
    return {
      method: "GET",
      path,
      print: (answer: { keys: Array<{ id: string; name: string; createdAt: number }> }) => printKeys(id, answer.keys),
    };
  }
  if (verb === "create") {
    if (id === undefined || third === undefined || extra.length > 0)
      return usage("apps keys create takes an app id and a name (quote a name with spaces).");
    return {
      method: "POST",
      path,
      body: { name: third },
      print: (key: { id: string; key: string }) => {
        console.log(`Created service key ${key.id} of app ${id}. It is shown only now; keep it secret, on the server:`);
        console.log(key.key);
      },
    };
  }
  if (verb !== "revoke") return usage(`unknown command "keys ${verb ?? ""}" (expected list, create or revoke).`);
  if (id === undefined || third === undefined || extra.length > 0)
    return usage("apps keys revoke takes an app id and a key id.");
  return {
    method: "DELETE",
    path: `${path}/${encodeURIComponent(third)}`,
    print: () => console.log(`Revoked service key ${third} of app ${id}.`),
  };
}

function printKeys(appId: string, keys: ReadonlyArray<{ id: string; name: string; createdAt: number }>): void {
  if (keys.length === 0)
    console.log(`App ${appId} has no service keys: create one with trellis-server apps keys create ${appId} NAME.`);
  for (const key of keys) console.log(`${key.id.padEnd(18)} ${new Date(key.createdAt).toISOString()}  ${key.name}`);
}

function printApps(answer: { apps?: App[] }): void {
  const apps = answer.apps ?? [];
  if (apps.length === 0) console.log("No apps yet: create one with trellis-server apps create NAME.");
  for (const app of apps) console.log(`${app.id.padEnd(18)} ${new Date(app.createdAt).toISOString()}  ${app.name}`);
}

function printRules(answer: AppRules): void {
  if (answer.source === "app") {
    console.log(`App ${answer.appId} follows its own permission rules:`);
    console.log(JSON.stringify(answer.rules, null, 2));
  } else if (answer.source === "server") {
    console.log(`App ${answer.appId} follows the server's permission rules (--permissions).`);
  } else {
    console.log(`App ${answer.appId} has no permission rules: every user may read and write everything.`);
  }
}

function failed(message: string): number {
  console.error(`trellis-server apps: ${message}`);
  return 1;
}
