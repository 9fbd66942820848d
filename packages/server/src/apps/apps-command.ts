import { parseArgs } from "node:util";

export const APPS_USAGE = `Usage: trellis-server apps list [--url URL] [--json]
       trellis-server apps create NAME [--url URL] [--json]
       trellis-server apps delete ID --yes [--url URL] [--json]   (deletes the app's data for good)

  Talks to a running server's admin API (docs/admin.md) with the admin secret from
  TRELLIS_ADMIN_SECRET (or --admin-secret).
  --url           the server                                         default http://127.0.0.1:8787
  --json          print the API's JSON answer instead of text`;

interface App {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
}

/**
 * `trellis-server apps …`: lists or creates apps through a running server's admin API and
 * prints the result (text, or `--json`). Resolves to the process's exit code; what went wrong
 * is printed to stderr.
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
      options: { url: { type: "string" }, json: { type: "boolean" }, yes: { type: "boolean" }, "admin-secret": { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    return failed(`${(error as Error).message}\n\n${APPS_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(APPS_USAGE);
    return 0;
  }
  const [action, ...rest] = positionals;
  if (action !== "list" && action !== "create" && action !== "delete") return failed(`unknown command ${JSON.stringify(action ?? "")}.\n\n${APPS_USAGE}`);
  if (action === "list" && rest.length > 0) return failed(`apps list takes no names.\n\n${APPS_USAGE}`);
  if (action === "create" && rest.length !== 1) return failed(`apps create takes one name (quote a name with spaces).\n\n${APPS_USAGE}`);
  if (action === "delete" && rest.length !== 1) return failed(`apps delete takes one app id.\n\n${APPS_USAGE}`);
  if (action === "delete" && !values.yes) return failed(`deleting app ${rest[0]} removes its data for good; add --yes to do it.`);
  const secret = values["admin-secret"] ?? env.TRELLIS_ADMIN_SECRET;
  if (secret === undefined || secret === "") return failed("set TRELLIS_ADMIN_SECRET (or pass --admin-secret) to the server's admin secret.");
  const url = (values.url ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
  const target = action === "delete" ? `${url}/v1/admin/apps/${encodeURIComponent(rest[0]!)}?confirm=true` : `${url}/v1/admin/apps`;
  let response: Response;
  try {
    response = await fetch(target, {
      method: action === "create" ? "POST" : action === "delete" ? "DELETE" : "GET",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      ...(action === "create" ? { body: JSON.stringify({ name: rest[0] }) } : {}),
    });
  } catch (error) {
    return failed(`could not reach ${url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
  }
  const body = (await response.json().catch(() => undefined)) as { error?: { message?: string }; apps?: App[] } & Partial<App> | undefined;
  if (!response.ok) return failed(`${url} answered ${response.status}: ${body?.error?.message ?? response.statusText}`);
  if (values.json) {
    console.log(JSON.stringify(body, null, 2));
    return 0;
  }
  if (action === "delete") {
    console.log(`Deleted app ${rest[0]} and its data.`);
    return 0;
  }
  if (action === "create") {
    const app = body as App;
    console.log(`Created app "${app.name}" with id ${app.id}.`);
    console.log(`Connect a client with createClient({ schema, appId: "${app.id}", serverUrl: "${url}" }).`);
    return 0;
  }
  const apps = body?.apps ?? [];
  if (apps.length === 0) console.log("No apps yet: create one with trellis-server apps create NAME.");
  for (const app of apps) console.log(`${app.id.padEnd(18)} ${new Date(app.createdAt).toISOString()}  ${app.name}`);
  return 0;
}

function failed(message: string): number {
  console.error(`trellis-server apps: ${message}`);
  return 1;
}
