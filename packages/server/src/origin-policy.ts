/**
 * Which browser origins may open a WebSocket or call the HTTP API. A request without an `Origin`
 * header (a Node client, curl) is not a browser page and is always allowed: the check is there to
 * keep web pages a developer happens to visit away from the server, not to authenticate.
 */
export interface OriginPolicy {
  /** Whether any origin is allowed (CORS then answers `*`). */
  readonly isOpen: boolean;
  allows(origin: string | undefined): boolean;
}

/**
 * The policy for a list of allowed origins: `"*"` allows every origin; `"loopback"` allows pages
 * served from localhost, 127.0.0.0/8 or [::1] on any port; anything else is an exact origin
 * (`https://app.example.com`).
 *
 * @example
 * createOriginPolicy(["loopback", "https://app.example.com"]).allows("http://localhost:5173") // true
 */
export function createOriginPolicy(allowed: readonly string[]): OriginPolicy {
  const isOpen = allowed.includes("*");
  const allowsLoopback = allowed.includes("loopback");
  const exact = new Set(allowed.filter((each) => each !== "*" && each !== "loopback").map(normalizeOrigin));
  return {
    isOpen,
    allows: (origin) => origin === undefined || isOpen || exact.has(origin) || (allowsLoopback && isLoopback(origin)),
  };
}

/** Checks an `--allow-origin` entry, returning it in the form browsers send. */
export function normalizeOrigin(origin: string): string {
  if (origin === "*" || origin === "loopback") return origin;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new TypeError(
      `createServer: allowOrigins entry ${JSON.stringify(origin)} is not an origin such as "https://app.example.com", "loopback" or "*".`,
    );
  }
  if (url.origin === "null" || `${url.origin}` !== origin.replace(/\/$/, "")) {
    throw new TypeError(
      `createServer: allowOrigins entry ${JSON.stringify(origin)} must be a bare origin (scheme, host and port), such as ${JSON.stringify(url.origin)}.`,
    );
  }
  return url.origin;
}

function isLoopback(origin: string): boolean {
  let hostname: string;
  try {
    ({ hostname } = new URL(origin));
  } catch {
    return false;
  }
  return (
    hostname === "localhost" ||
    hostname.endsWith(".localhost") ||
    hostname === "[::1]" ||
    /^127(\.\d{1,3}){3}$/.test(hostname)
  );
}
