import { fail, ok } from "@trellis/core";
import type { AppRegistry } from "./app-registry.js";
import { createRemoteJWKSet, importSPKI, type JWTVerifyGetKey, jwtVerify, decodeProtectedHeader } from "jose";
import type { Authenticate, Identity } from "../auth.js";

/** One key an app's tokens may be signed with. */
export type AppAuthKey =
  /** HS256 with a shared secret (16+ characters). */
  | { readonly id: string; readonly secret: string }
  /** RS256 or ES256, checked with a public key (PEM "SPKI" text). */
  | { readonly id: string; readonly publicKey: string; readonly algorithm: "RS256" | "ES256" }
  /** RS256 or ES256 keys published as a JWKS (Auth0, Clerk, Supabase…), fetched and cached. */
  | { readonly id: string; readonly jwksUrl: string };

/**
 * How an app's tokens are checked: several keys at once while one replaces another (rotation),
 * and optionally the audience and issuer a token must name.
 */
export interface AppAuthSettings {
  readonly keys: readonly AppAuthKey[];
  readonly audience?: string;
  readonly issuer?: string;
}

/** A mistake in auth settings: where (a path such as `keys[1].jwksUrl`) and what. */
export class AuthSettingsError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`Invalid auth settings at ${path}: ${reason}.`);
    this.name = "AuthSettingsError";
  }
}

const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_KEYS = 10;
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
/**
 * A JWKS is fetched again when a token names a key it lacks (a rotation), at most once in this
 * long: tokens with made-up key ids cannot make the server hammer the provider.
 */
const JWKS_COOLDOWN_MS = 5_000;

/**
 * Checks auth settings (parsed JSON) and returns them as the server keeps them; throws an
 * {@link AuthSettingsError} naming the path of the first mistake. Public keys are imported to be
 * sure they are keys.
 *
 * @example
 * const settings = await parseAuthSettings({ keys: [{ id: "2026-12", secret: process.env.APP_JWT_SECRET }] });
 */
export async function parseAuthSettings(value: unknown): Promise<AppAuthSettings> {
  const raw = record(value, "(auth)");
  for (const key of Object.keys(raw))
    if (!["keys", "audience", "issuer"].includes(key))
      throw new AuthSettingsError(key, "unknown key (expected keys, audience, issuer)");
  if (!Array.isArray(raw.keys) || raw.keys.length === 0 || raw.keys.length > MAX_KEYS)
    throw new AuthSettingsError("keys", `expected 1-${MAX_KEYS} keys`);
  const ids = new Set<string>();
  const keys: AppAuthKey[] = [];
  for (const [index, each] of raw.keys.entries()) {
    const path = `keys[${index}]`;
    const key = record(each, path);
    if (typeof key.id !== "string" || !KEY_ID.test(key.id))
      throw new AuthSettingsError(`${path}.id`, "expected 1-64 characters of [A-Za-z0-9_.-]");
    if (ids.has(key.id)) throw new AuthSettingsError(`${path}.id`, `the id ${JSON.stringify(key.id)} is used twice`);
    ids.add(key.id);
    keys.push(await parseKey(key, path));
  }
  const audience = optionalText(raw.audience, "audience");
  const issuer = optionalText(raw.issuer, "issuer");
  return { keys, ...(audience === undefined ? {} : { audience }), ...(issuer === undefined ? {} : { issuer }) };
}

async function parseKey(key: Record<string, unknown>, path: string): Promise<AppAuthKey> {
  const id = key.id as string;
  const kinds = ["secret", "publicKey", "jwksUrl"].filter((kind) => key[kind] !== undefined);
  if (kinds.length !== 1) throw new AuthSettingsError(path, "expected exactly one of secret, publicKey, jwksUrl");
  const allowed = kinds[0] === "publicKey" ? ["id", "publicKey", "algorithm"] : ["id", kinds[0]!];
  for (const each of Object.keys(key))
    if (!allowed.includes(each))
      throw new AuthSettingsError(`${path}.${each}`, `unknown key (expected ${allowed.join(", ")})`);
  if (kinds[0] === "secret") {
    if (typeof key.secret !== "string" || key.secret.length < 16)
      throw new AuthSettingsError(`${path}.secret`, "expected a string of at least 16 characters");
    return { id, secret: key.secret };
  }
  if (kinds[0] === "publicKey") {
    if (key.algorithm !== "RS256" && key.algorithm !== "ES256")
      throw new AuthSettingsError(`${path}.algorithm`, 'expected "RS256" or "ES256"');
    if (typeof key.publicKey !== "string")
      throw new AuthSettingsError(`${path}.publicKey`, "expected PEM text (-----BEGIN PUBLIC KEY-----)");
    try {
      await importSPKI(key.publicKey, key.algorithm);
    } catch (error) {
      throw new AuthSettingsError(
        `${path}.publicKey`,
        `not a ${key.algorithm} public key in PEM form (${(error as Error).message})`,
      );
    }
    return { id, publicKey: key.publicKey, algorithm: key.algorithm };
  }
  let url: URL;
  try {
    url = new URL(String(key.jwksUrl));
  } catch {
    throw new AuthSettingsError(`${path}.jwksUrl`, "expected a URL");
  }
  // Keys fetched in the clear could be swapped on the way: only a server on this machine may use http.
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname))) {
    throw new AuthSettingsError(`${path}.jwksUrl`, "expected an https URL (http only on loopback)");
  }
  return { id, jwksUrl: url.href };
}

/** What the admin API shows of settings: every key's id and kind, no secret. */
export function describeAuthSettings(settings: AppAuthSettings): Record<string, unknown> {
  return {
    keys: settings.keys.map((key) =>
      "secret" in key
        ? { id: key.id, type: "secret" }
        : "publicKey" in key
          ? { id: key.id, type: "publicKey", algorithm: key.algorithm }
          : { id: key.id, type: "jwks", jwksUrl: key.jwksUrl },
    ),
    ...(settings.audience === undefined ? {} : { audience: settings.audience }),
    ...(settings.issuer === undefined ? {} : { issuer: settings.issuer }),
  };
}

/** How one key checks a token's signature. */
interface KeyCheck {
  readonly id: string;
  readonly key: Uint8Array | CryptoKey | JWTVerifyGetKey;
  /** Only these: an HS256 token never meets an RSA key, so no key-confusion is possible. */
  readonly algorithms: string[];
}

/**
 * The token check of an app with auth settings: a token verifies if one of its keys verifies it
 * (the key named by the token's `kid` first), with the algorithms of that key only, and it names
 * the audience and issuer required. Like the server-wide check, `sub` is the user.
 *
 * @example
 * const authenticate = await createAppAuthenticator({
 *   keys: [{ id: "main", secret: process.env.JWT_SECRET! }],
 *   audience: "my-app",
 * });
 * const { data: identity, error } = await authenticate({ token });
 */
export async function createAppAuthenticator(settings: AppAuthSettings): Promise<Authenticate> {
  const checks: KeyCheck[] = [];
  for (const key of settings.keys) {
    if ("secret" in key) checks.push({ id: key.id, key: new TextEncoder().encode(key.secret), algorithms: ["HS256"] });
    else if ("publicKey" in key)
      checks.push({
        id: key.id,
        key: (await importSPKI(key.publicKey, key.algorithm)) as CryptoKey,
        algorithms: [key.algorithm],
      });
    else
      checks.push({
        id: key.id,
        key: createRemoteJWKSet(new URL(key.jwksUrl), { cooldownDuration: JWKS_COOLDOWN_MS, cacheMaxAge: 10 * 60_000 }),
        algorithms: ["RS256", "ES256"],
      });
  }
  const claims = {
    ...(settings.audience === undefined ? {} : { audience: settings.audience }),
    ...(settings.issuer === undefined ? {} : { issuer: settings.issuer }),
  };
  return async ({ token }) => {
    if (token === undefined)
      return fail("UNAUTHORIZED", "This app requires a token: pass createClient({ auth: { token } }).");
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      return fail("UNAUTHORIZED", "The token was refused: it is not a JWT.");
    }
    const ordered = [...checks.filter((check) => check.id === kid), ...checks.filter((check) => check.id !== kid)];
    let refusal: Error | undefined;
    for (const check of ordered) {
      try {
        const { payload } = await jwtVerify(token, check.key as Uint8Array, {
          algorithms: check.algorithms,
          ...claims,
        });
        if (typeof payload.sub !== "string" || payload.sub === "")
          return fail("UNAUTHORIZED", `The token has no "sub" claim naming the user.`);
        return ok<Identity>({
          userId: payload.sub,
          expiresAt: typeof payload.exp === "number" ? payload.exp * 1000 : undefined,
          claims: payload,
        });
      } catch (error) {
        // A key that verified the signature says best why the token is refused (expired, audience…).
        if (refusal === undefined || !isSignatureMismatch(error)) refusal = error as Error;
      }
    }
    return fail("UNAUTHORIZED", `The token was refused: ${refusal?.message ?? "no key of this app verifies it"}.`);
  };
}

function isSignatureMismatch(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return (
    code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" ||
    code === "ERR_JWKS_NO_MATCHING_KEY" ||
    code === "ERR_JOSE_ALG_NOT_ALLOWED"
  );
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new AuthSettingsError(path, "expected an object");
  return value as Record<string, unknown>;
}

function optionalText(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "" || value.length > 512)
    throw new AuthSettingsError(path, "expected a string of 1-512 characters");
  return value;
}

/**
 * The server's token check, app by app: an app with auth settings of its own checks tokens with
 * them only (see {@link createAppAuthenticator}); any other app, or a request that names none,
 * with the server's (`--jwt-secret`, or development mode without it).
 *
 * @example
 * // The server-wide check, for apps without auth settings of their own: here, none is accepted.
 * const auth = new AppAuth(apps, async () => fail("UNAUTHORIZED", "Only apps with their own keys take tokens here."));
 * const { data: identity, error } = await auth.authenticate({ token, appId }); // with the app's own keys if any
 */
export class AppAuth {
  private readonly checks = new Map<string, Promise<Authenticate>>();

  constructor(
    private readonly apps: AppRegistry,
    private readonly serverWide: Authenticate,
  ) {}

  /** Whether an app checks tokens with settings of its own. */
  hasOwn(appId: string): boolean {
    return this.apps.authOf(appId) !== undefined;
  }

  readonly authenticate: Authenticate = async (credentials) => {
    const appId = credentials.appId;
    const settings = appId === undefined ? undefined : this.apps.authOf(appId);
    if (appId === undefined || settings === undefined) return this.serverWide(credentials);
    let check = this.checks.get(appId);
    if (check === undefined) this.checks.set(appId, (check = createAppAuthenticator(settings as AppAuthSettings)));
    try {
      return await (
        await check
      )(credentials);
    } catch (error) {
      this.checks.delete(appId);
      return fail(
        "STORAGE",
        `The auth settings of app "${appId}" could not be used (${(error as Error).message}); an admin sets them again (docs/admin.md).`,
        { appId },
      );
    }
  };

  /** Forgets an app's cached check: its settings changed. */
  forget(appId: string): void {
    this.checks.delete(appId);
  }
}
