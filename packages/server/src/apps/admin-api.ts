import type { IncomingMessage } from "node:http";
import { type DatabaseResult, fail, ok } from "@trellis/core";
import type { OpenApps } from "../open-apps.js";
import type { BodyBudget } from "../body-budget.js";
import { header, type HttpAnswer, jsonObject, readBody } from "../http-body.js";
import type { AdminGate } from "./admin-gate.js";
import {
  type AppAuth,
  AuthSettingsError,
  describeAuthSettings,
  parseAuthSettings,
  type AppAuthSettings,
} from "./app-auth.js";
import type { AppRegistry } from "./app-registry.js";
import { collectionCounts, documentCells, documentPage } from "./data-browser.js";

/** What the admin API works on. */
export interface AdminContext {
  readonly openApps: OpenApps;
  readonly apps: AppRegistry;
  /** Checks admin secrets; undefined without one (development mode: no admin API). */
  readonly admin: AdminGate | undefined;
  /** Each app's token check (auth settings of its own, or the server's). */
  readonly appAuth: AppAuth;
  readonly bodies: BodyBudget;
}

/** Largest admin request body: an app's name and auth settings, its permission rules, a key's name. */
const MAX_ADMIN_BODY_BYTES = 256 * 1024;

/** `/v1/admin/apps`, `/v1/admin/apps/<id>`, `/v1/admin/apps/<id>/<part>`, `/v1/admin/apps/<id>/<part>/<item>`. */
const ROUTE = /^\/v1\/admin\/apps(?:\/([^/]+)(?:\/([a-z]+)(?:\/([^/]+))?)?)?$/;

/**
 * The admin API (docs/admin.md), every route behind the admin secret (checked before a body is
 * read):
 * - `GET /v1/admin/apps` lists the apps; `POST /v1/admin/apps` with `{ name, auth? }` creates
 *   one (201);
 * - `DELETE /v1/admin/apps/<id>?confirm=true` deletes one and its data;
 * - `GET /v1/admin/apps/<id>/metrics` reports on one;
 * - `GET`, `PUT` (the rules as the body) and `DELETE /v1/admin/apps/<id>/permissions` read, set
 *   and clear an app's own permission rules (design/024);
 * - `GET`, `PUT` (the settings as the body) and `DELETE /v1/admin/apps/<id>/auth` read, set and
 *   clear how its tokens are checked (secrets are never shown);
 * - `GET` and `POST /v1/admin/apps/<id>/keys` (`{ name }`, 201 with the key, shown only then)
 *   list and create its service keys, `DELETE /v1/admin/apps/<id>/keys/<key id>` revokes one;
 * - `GET /v1/admin/apps/<id>/collections`, `…/documents?collection=&where=&limit=&after=` and
 *   `…/document?collection=&id=` browse its data, `…/connections` lists its connections and
 *   rooms (design/027).
 * Undefined for a path that is not the admin API's.
 */
export async function answerAdmin(
  context: AdminContext,
  request: IncomingMessage,
  path: string,
): Promise<HttpAnswer | undefined> {
  const match = ROUTE.exec(path);
  if (match === null) return undefined;
  const [, rawId, part, item] = match;
  const route = `${request.method} ${rawId === undefined ? "" : ":id"}${part === undefined ? "" : `/${part}`}${item === undefined ? "" : "/:item"}`;
  if (!ROUTES.has(route))
    return { ...fail("NOT_FOUND", `No endpoint ${request.method} ${path}. See docs/admin.md.`), status: 404 };
  if (context.admin === undefined) {
    return {
      ...fail(
        "NOT_FOUND",
        "The admin API needs an admin secret: start the server with --admin-secret (docs/admin.md).",
      ),
      status: 404,
    };
  }
  const checked = context.admin.check(header(request, "authorization"), request.socket.remoteAddress ?? "unknown");
  if (checked === "throttled")
    return { ...fail("UNAUTHORIZED", "Too many failed admin sign-ins from this address; wait a minute."), status: 429 };
  if (checked === "refused") return fail("UNAUTHORIZED", "The admin API needs authorization: Bearer <admin secret>.");
  let id: string;
  let itemId: string;
  try {
    id = decodeURIComponent(rawId ?? "");
    itemId = decodeURIComponent(item ?? "");
  } catch {
    return fail("PROTOCOL", `Malformed app or key id in ${JSON.stringify(request.url)}.`);
  }
  if (rawId !== undefined && route !== "DELETE :id" && !context.apps.has(id))
    return fail("NOT_FOUND", `No app "${id}" exists on this server.`, { appId: id });
  switch (route) {
    case "GET ":
      return ok({ apps: context.apps.list() });
    case "POST ": {
      const body = await jsonBody(context, request);
      if (body.error) return body;
      const fields = jsonObject(body.data, ["name", "auth"]);
      if (fields.error) return fields;
      // Its auth settings, if given, are checked before the app is made.
      const settings = fields.data.auth === undefined ? undefined : await checkedAuth(fields.data.auth, "auth.");
      if (settings?.error) return settings;
      const created = context.apps.create(fields.data.name);
      if (!created.error && settings !== undefined) context.apps.setAuth(created.data.id, settings.data);
      return created;
    }
    case "DELETE :id": {
      if (new URL(request.url ?? "/", "http://localhost").searchParams.get("confirm") !== "true") {
        return fail("VALIDATION", `Deleting app "${id}" removes its data for good: add ?confirm=true to do it.`, {
          field: "confirm",
        });
      }
      const removed = context.openApps.remove(id);
      return removed.error ? removed : ok({ deleted: id });
    }
    case "GET :id/metrics":
      return context.openApps.metrics(id);
    case "GET :id/permissions":
      return context.openApps.rules(id);
    case "PUT :id/permissions": {
      const body = await jsonBody(context, request);
      if (body.error) return body;
      // The rules are a JSON object of collections (and $rooms), as in a rules file.
      const rules = jsonObject(body.data, undefined);
      return rules.error ? rules : context.openApps.setRules(id, rules.data);
    }
    case "DELETE :id/permissions":
      return context.openApps.setRules(id, undefined);
    case "GET :id/auth":
      return ok(authView(context, id));
    case "PUT :id/auth":
    case "DELETE :id/auth": {
      let settings: AppAuthSettings | undefined;
      if (route === "PUT :id/auth") {
        const body = await jsonBody(context, request);
        if (body.error) return body;
        const raw = jsonObject(body.data, undefined);
        if (raw.error) return raw;
        const checked = await checkedAuth(raw.data, "");
        if (checked.error) return checked;
        settings = checked.data;
      }
      context.apps.setAuth(id, settings);
      context.appAuth.forget(id);
      // Connections authenticated with the old settings authenticate again with the new ones.
      context.openApps.restart(id, "auth settings changed");
      return ok(authView(context, id));
    }
    case "GET :id/keys":
      return ok({ keys: context.apps.keys(id) });
    case "GET :id/collections":
    case "GET :id/documents":
    case "GET :id/document":
      return browse(context, id, route, new URL(request.url ?? "/", "http://localhost").searchParams);
    case "GET :id/connections": {
      const hub = context.openApps.running(id);
      return ok({ appId: id, connections: hub?.connections() ?? [], rooms: hub?.rooms.list() ?? [] });
    }
    case "POST :id/keys": {
      const body = await jsonBody(context, request);
      if (body.error) return body;
      const fields = jsonObject(body.data, ["name"]);
      return fields.error ? fields : context.apps.createKey(id, fields.data.name);
    }
    default:
      return context.apps.revokeKey(id, itemId)
        ? ok({ revoked: itemId })
        : fail("NOT_FOUND", `App "${id}" has no service key "${itemId}".`, { keyId: itemId });
  }
}

const ROUTES = new Set([
  "GET ",
  "POST ",
  "DELETE :id",
  "GET :id/metrics",
  "GET :id/permissions",
  "PUT :id/permissions",
  "DELETE :id/permissions",
  "GET :id/auth",
  "PUT :id/auth",
  "DELETE :id/auth",
  "GET :id/keys",
  "POST :id/keys",
  "DELETE :id/keys/:item",
  "GET :id/collections",
  "GET :id/documents",
  "GET :id/document",
  "GET :id/connections",
]);

/** The data browser's reads, on the app's replica (opening the app if it is closed). */
function browse(context: AdminContext, appId: string, route: string, params: URLSearchParams): DatabaseResult<unknown> {
  const hub = context.openApps.get(appId);
  if (hub.error) return hub;
  const store = hub.data.replica;
  if (route === "GET :id/collections") return ok({ appId, collections: collectionCounts(store) });
  const collection = params.get("collection");
  if (collection === null || collection === "")
    return fail("VALIDATION", "Name the collection: ?collection=<name>.", { field: "collection" });
  if (route === "GET :id/documents") {
    const request = {
      collection,
      where: params.get("where") ?? undefined,
      limit: params.get("limit") ?? undefined,
      after: params.get("after") ?? undefined,
    };
    return documentPage(store, request, hub.data.queryCostOptions);
  }
  const docId = params.get("id");
  if (docId === null || docId === "") return fail("VALIDATION", "Name the document: ?id=<id>.", { field: "id" });
  return documentCells(store, collection, docId, (client) => hub.data.userOfClient(client));
}

function jsonBody(context: AdminContext, request: IncomingMessage) {
  return readBody(request, MAX_ADMIN_BODY_BYTES, context.bodies);
}

/** How an app's tokens are checked, as the admin API shows it (no secrets). */
function authView(context: AdminContext, appId: string): Record<string, unknown> {
  const own = context.apps.authOf(appId) as AppAuthSettings | undefined;
  if (own !== undefined) return { appId, source: "app", ...describeAuthSettings(own) };
  return { appId, source: "server" };
}

/** Auth settings checked, or VALIDATION naming the path (below `prefix`) of the first mistake. */
async function checkedAuth(value: unknown, prefix: string): Promise<DatabaseResult<AppAuthSettings>> {
  try {
    return ok(await parseAuthSettings(value));
  } catch (error) {
    if (!(error instanceof AuthSettingsError)) throw error;
    return fail("VALIDATION", error.message, { path: `${prefix}${error.path}` });
  }
}
