import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PROTOCOL_VERSION } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminCall, closeAllSockets, connect, openSocket, post, query } from "../testing/raw-socket.js";

// Each app's own auth against a real server process: HS256 secrets, PEM public keys and a JWKS
// served on loopback, audience and issuer, rotation with overlap, and the tokens an attacker
// would try.

const ADMIN = "an-admin-secret-for-app-auth-tests";
const SERVER_JWT = "the-server-wide-jwt-secret-here";
const SECRET_A = "app-a-hs256-secret-of-some-length";
const SECRET_A2 = "app-a-rotated-secret-of-some-length";
const AUDIENCE = "app-a";
const ISSUER = "https://issuer.example";

let server: ServerProcess;
let jwks: Server;
let jwksKeys: JWK[] = [];
const rsa: Record<string, { privateKey: CryptoKey; publicKey: CryptoKey }> = {};

beforeAll(async () => {
  for (const kid of ["pem", "k1", "k2"]) rsa[kid] = await generateKeyPair("RS256");
  jwks = createHttpServer((_, response) =>
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: jwksKeys })),
  );
  await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  jwksKeys = [{ ...(await exportJWK(rsa.k1!.publicKey)), kid: "k1", alg: "RS256", use: "sig" }];
  server = await startServerProcess({ args: ["--admin-secret", ADMIN, "--jwt-secret", SERVER_JWT] });
});

afterAll(async () => {
  await closeAllSockets();
  await server.stop();
  removeDataDir(server.dataDir);
  await new Promise((resolve) => jwks.close(resolve));
});

const admin = (method: string, path: string, body?: unknown) => adminCall(server.url, ADMIN, method, path, body);

const hs256 = (
  secret: string,
  claims: { sub?: string; aud?: string; iss?: string; exp?: string | number; nbf?: string | number } = {},
  kid?: string,
) => {
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: "HS256", ...(kid === undefined ? {} : { kid }) })
    .setSubject(claims.sub ?? "alice")
    .setExpirationTime(claims.exp ?? "1h");
  if (claims.aud !== undefined) jwt = jwt.setAudience(claims.aud);
  if (claims.iss !== undefined) jwt = jwt.setIssuer(claims.iss);
  if (claims.nbf !== undefined) jwt = jwt.setNotBefore(claims.nbf);
  return jwt.sign(new TextEncoder().encode(secret));
};
const rs256 = (kid: string, sub = "alice") =>
  new SignJWT({})
    .setProtectedHeader({ alg: "RS256", kid })
    .setSubject(sub)
    .setExpirationTime("1h")
    .sign(rsa[kid]!.privateKey);
const good = () => hs256(SECRET_A, { aud: AUDIENCE, iss: ISSUER });

/** A query of `appId` with `token`, its app named in x-trellis-app (as the client sends it) unless `header` says otherwise. */
const ask = (appId: string, token: string | undefined, header: string | null = appId) =>
  post(
    server.url,
    "/v1/query",
    { appId, query: query("todos"), cursor: null },
    {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(header === null ? {} : { "x-trellis-app": header }),
    },
  );

describe("an app's own auth", () => {
  let appA: string;
  let appB: string;
  let appC: string;

  beforeAll(async () => {
    appA = (await admin("POST", "", { name: "A" })).body.id;
    appB = (await admin("POST", "", { name: "B" })).body.id;
    // Settings can come with the app; bad ones make no app.
    expect(await admin("POST", "", { name: "Bad", auth: { keys: [{ id: "x", secret: "short" }] } })).toMatchObject({
      status: 400,
      body: { error: { details: { path: "auth.keys[0].secret" } } },
    });
    expect(((await admin("GET", "")).body.apps as Array<{ name: string }>).map((app) => app.name)).not.toContain("Bad");
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    appC = (await admin("POST", "", { name: "C", auth: { keys: [{ id: "idp", jwksUrl }] } })).body.id;
    expect(
      (
        await admin("PUT", `/${appA}/auth`, {
          keys: [{ id: "a1", secret: SECRET_A }],
          audience: AUDIENCE,
          issuer: ISSUER,
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await admin("PUT", `/${appB}/auth`, {
          keys: [{ id: "pem", publicKey: await exportSPKI(rsa.pem!.publicKey), algorithm: "RS256" }],
        })
      ).status,
    ).toBe(200);
    expect((await admin("GET", `/${appC}/auth`)).body).toEqual({
      appId: appC,
      source: "app",
      keys: [{ id: "idp", type: "jwks", jwksUrl }],
    });
  });

  it("verifies a token only with the app's own keys, audience and issuer, and refuses everything else", async () => {
    expect((await ask(appA, await good())).status).toBe(200);
    const refusals: Array<[string, string | undefined, RegExp]> = [
      ["no token", undefined, /requires a token/],
      ["garbage", "not.a.jwt", /not a JWT|refused/],
      [
        "expired",
        await hs256(SECRET_A, { aud: AUDIENCE, iss: ISSUER, exp: Math.floor(Date.now() / 1000) - 60 }),
        /"exp"/,
      ],
      [
        "not yet valid",
        await hs256(SECRET_A, { aud: AUDIENCE, iss: ISSUER, nbf: Math.floor(Date.now() / 1000) + 3600 }),
        /"nbf"/,
      ],
      ["wrong secret", await hs256("another-secret-of-enough-length", { aud: AUDIENCE, iss: ISSUER }), /signature/],
      ["the server's secret", await hs256(SERVER_JWT, { aud: AUDIENCE, iss: ISSUER }), /signature/],
      ["another app's key", await rs256("pem"), /refused/],
      [
        "alg none",
        new UnsecuredJWT({ aud: AUDIENCE, iss: ISSUER }).setSubject("alice").setExpirationTime("1h").encode(),
        /refused/,
      ],
      ["wrong audience", await hs256(SECRET_A, { aud: "another-app", iss: ISSUER }), /"aud"/],
      ["wrong issuer", await hs256(SECRET_A, { aud: AUDIENCE, iss: "https://evil.example" }), /"iss"/],
    ];
    for (const [what, token, message] of refusals) {
      const answer = await ask(appA, token);
      expect(answer.status, what).toBe(401);
      expect(answer.body.error.message, what).toMatch(message);
    }
    // Key confusion: an HS256 token "signed" with an RS256 app's public key is not an RS256 token.
    const confused = await hs256(await exportSPKI(rsa.pem!.publicKey));
    expect((await ask(appB, confused)).status).toBe(401);
    expect((await ask(appB, await rs256("pem"))).status).toBe(200);
    // Checked for the app named in x-trellis-app: a token for A does not open B, and without the
    // header the server's keys are used, which an app with its own refuses.
    expect(await ask(appB, await good(), appA)).toMatchObject({
      status: 401,
      body: { error: { message: expect.stringContaining("x-trellis-app") } },
    });
    expect(await ask(appA, await good(), null)).toMatchObject({ status: 401 });
    expect(await ask(appA, await hs256(SERVER_JWT), null)).toMatchObject({
      status: 401,
      body: { error: { message: expect.stringContaining("keys of its own") } },
    });
    // An app without auth of its own still takes the server's tokens.
    const plain = (await admin("POST", "", { name: "Plain" })).body.id;
    expect((await ask(plain, await hs256(SERVER_JWT))).status).toBe(200);
    expect((await ask(plain, await hs256(SERVER_JWT), null)).status).toBe(200);
    // Over the WebSocket too.
    await connect(server.url, appA, { token: await good() });
    const refused = await openSocket(server.url);
    refused.send({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      appId: appA,
      clientId: "c1",
      token: await hs256(SERVER_JWT),
    });
    expect(await refused.next("error")).toMatchObject({ code: "UNAUTHORIZED" });
    // Secrets are never shown.
    const shown = await admin("GET", `/${appA}/auth`);
    expect(shown.body).toEqual({
      appId: appA,
      source: "app",
      keys: [{ id: "a1", type: "secret" }],
      audience: AUDIENCE,
      issuer: ISSUER,
    });
    expect(JSON.stringify(shown.body)).not.toContain(SECRET_A);
  });

  it("rotates keys with an overlap, fetches a JWKS again for a key it lacks, and refuses bad settings", async () => {
    const old = await good();
    const rotated = await hs256(SECRET_A2, { aud: AUDIENCE, iss: ISSUER }, "a2");
    expect(
      (
        await admin("PUT", `/${appA}/auth`, {
          keys: [
            { id: "a1", secret: SECRET_A },
            { id: "a2", secret: SECRET_A2 },
          ],
          audience: AUDIENCE,
          issuer: ISSUER,
        })
      ).status,
    ).toBe(200);
    expect((await ask(appA, old)).status).toBe(200);
    expect((await ask(appA, rotated)).status).toBe(200);
    expect(
      (
        await admin("PUT", `/${appA}/auth`, {
          keys: [{ id: "a2", secret: SECRET_A2 }],
          audience: AUDIENCE,
          issuer: ISSUER,
        })
      ).status,
    ).toBe(200);
    expect((await ask(appA, old)).status).toBe(401);
    expect((await ask(appA, rotated)).status).toBe(200);

    expect((await ask(appC, await rs256("k1"))).status).toBe(200);
    expect((await ask(appC, await rs256("k2"))).status).toBe(401);
    // The provider rotates: a token with the new key verifies once the server may fetch again.
    jwksKeys = [...jwksKeys, { ...(await exportJWK(rsa.k2!.publicKey)), kid: "k2", alg: "RS256", use: "sig" }];
    await new Promise((resolve) => setTimeout(resolve, 5_200));
    expect((await ask(appC, await rs256("k2"))).status).toBe(200);

    const bad = async (settings: unknown, path: string) =>
      expect(await admin("PUT", `/${appA}/auth`, settings)).toMatchObject({
        status: 400,
        body: { error: { code: "VALIDATION", details: { path } } },
      });
    await bad({ keys: [] }, "keys");
    await bad({ keys: [{ id: "x", secret: "short" }] }, "keys[0].secret");
    await bad({ keys: [{ id: "x", publicKey: "not a key", algorithm: "RS256" }] }, "keys[0].publicKey");
    await bad({ keys: [{ id: "x", jwksUrl: "http://idp.example/jwks.json" }] }, "keys[0].jwksUrl");
    await bad({ keys: [{ id: "x", secret: SECRET_A, jwksUrl: "https://idp.example/jwks.json" }] }, "keys[0]");
    await bad(
      {
        keys: [
          { id: "x", secret: SECRET_A },
          { id: "x", secret: SECRET_A2 },
        ],
      },
      "keys[1].id",
    );
    await bad({ keys: [{ id: "x", secret: SECRET_A }], audiences: "a" }, "audiences");
    expect((await ask(appA, rotated)).status).toBe(200);

    // Cleared: back to the server's keys.
    expect((await admin("DELETE", `/${appA}/auth`)).body).toEqual({ appId: appA, source: "server" });
    expect((await ask(appA, await hs256(SERVER_JWT))).status).toBe(200);
    expect((await ask(appA, rotated)).status).toBe(401);
  }, 30_000);
});
