import { type DatabaseResult, fail, ok } from "@trellis/core";
import { importJWK, importSPKI, type JWK, jwtVerify } from "jose";

/**
 * How the server learns who a connection is. Without it the server runs in development mode and
 * trusts the user id a client claims.
 */
export type AuthOptions =
  /** HS256 tokens signed with a shared secret. */
  | { readonly jwtSecret: string }
  /** RS256 or ES256 tokens checked with a public key (PEM "SPKI" text or a JWK). */
  | { readonly publicKey: string | JWK; readonly algorithm: "RS256" | "ES256" };

/** Who a request or connection is for, and until when. */
export interface Identity {
  /** The user id, or null for an anonymous development connection. */
  readonly userId: string | null;
  /** When the token stops being valid (its `exp`, in ms since the epoch); undefined when it never does. */
  readonly expiresAt: number | undefined;
  /** The verified token's claims (`$user.<claim>` in permission rules); none in development mode. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** Checks the credentials of a request or connection, for the app it names (apps may have auth of their own). */
export type Authenticate = (credentials: {
  readonly token?: string | undefined;
  readonly userId?: string | undefined;
  readonly appId?: string | undefined;
}) => Promise<DatabaseResult<Identity>>;

/**
 * Builds the check the server runs on every `hello` and HTTP request. With auth configured, the
 * token's `sub` is the user and a claimed user id is ignored; a missing, expired or badly signed
 * token is UNAUTHORIZED.
 *
 * @example
 * const authenticate = await createAuthenticator({ jwtSecret: process.env.JWT_SECRET! });
 * const { data: identity, error } = await authenticate({ token }); // identity.userId, identity.expiresAt
 */
export async function createAuthenticator(options: AuthOptions | undefined): Promise<Authenticate> {
  if (options === undefined)
    return async ({ userId }) => ok({ userId: userId ?? null, expiresAt: undefined, claims: {} });
  const [key, algorithm] = await verificationKey(options);
  return async ({ token }) => {
    if (token === undefined)
      return fail("UNAUTHORIZED", "This server requires a token: pass createClient({ auth: { token } }).");
    try {
      const { payload } = await jwtVerify(token, key, { algorithms: [algorithm] });
      if (typeof payload.sub !== "string" || payload.sub === "")
        return fail("UNAUTHORIZED", `The token has no "sub" claim naming the user.`);
      return ok({
        userId: payload.sub,
        expiresAt: typeof payload.exp === "number" ? payload.exp * 1000 : undefined,
        claims: payload,
      });
    } catch (error) {
      return fail("UNAUTHORIZED", `The token was refused: ${(error as Error).message}`);
    }
  };
}

async function verificationKey(options: AuthOptions): Promise<[Uint8Array | CryptoKey, string]> {
  if ("jwtSecret" in options) {
    if (typeof options.jwtSecret !== "string" || options.jwtSecret.length < 16) {
      throw new TypeError("createServer: auth.jwtSecret must be a string of at least 16 characters.");
    }
    return [new TextEncoder().encode(options.jwtSecret), "HS256"];
  }
  const { publicKey, algorithm } = options;
  if (algorithm !== "RS256" && algorithm !== "ES256")
    throw new TypeError(`createServer: auth.algorithm must be "RS256" or "ES256".`);
  const key =
    typeof publicKey === "string" ? await importSPKI(publicKey, algorithm) : await importJWK(publicKey, algorithm);
  return [key as CryptoKey, algorithm];
}
