/**
 * Checks a server address: an absolute http(s) URL without query or fragment. A bad one is a
 * programmer error, so it throws.
 *
 * @example checkServerUrl("http://127.0.0.1:8787") // "http://127.0.0.1:8787"
 */
export function checkServerUrl(serverUrl: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof serverUrl === "string" ? new URL(serverUrl) : undefined;
  } catch {
    url = undefined;
  }
  if (
    url === undefined ||
    (url.protocol !== "http:" && url.protocol !== "https:") ||
    url.search !== "" ||
    url.hash !== ""
  ) {
    throw new TypeError(
      `createClient: serverUrl must be an http(s) URL like "http://127.0.0.1:8787", got ${JSON.stringify(serverUrl)}.`,
    );
  }
  return serverUrl as string;
}

/**
 * The sync WebSocket address of a server: `http(s)://host/base` to `ws(s)://host/base/v1/sync`.
 *
 * @example syncUrl("http://127.0.0.1:8787") // "ws://127.0.0.1:8787/v1/sync"
 */
export function syncUrl(serverUrl: string): string {
  const url = endpoint(serverUrl, "/v1/sync");
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

/**
 * The address of an HTTP endpoint of a server.
 *
 * @example httpUrl("http://127.0.0.1:8787/", "/v1/query") // "http://127.0.0.1:8787/v1/query"
 */
export function httpUrl(serverUrl: string, path: string): string {
  return endpoint(serverUrl, path).toString();
}

function endpoint(serverUrl: string, path: string): URL {
  const url = new URL(serverUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}${path}`;
  return url;
}
