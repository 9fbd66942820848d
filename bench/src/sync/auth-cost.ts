/**
 * What checking tokens costs a connection: new connections (`hello` → `welcome`, then closed)
 * one after another against a development server (no tokens), against a server with a JWT
 * secret (HS256), and against apps of a production server that check tokens with keys of their
 * own: an RS256 public key, and a JWKS served on loopback (cached after the first token).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { removeDataDir, startServerProcess } from "@trellis/server/testing";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { median } from "../stats.js";
import { openProtocolSocket } from "./protocol-socket.js";

export interface AuthCostResult {
  readonly connections: number;
  /** Connections set up per second, and the median setup, by how tokens are checked. */
  readonly rows: ReadonlyArray<{ readonly mode: string; readonly perSecond: number; readonly medianMs: number }>;
}

const ADMIN = "an-admin-secret-for-the-auth-bench";
const JWT_SECRET = "a-jwt-secret-for-the-auth-bench";

/** `count` connections one after another, each with a fresh token from `token` (signed beforehand). */
async function setupRate(
  serverUrl: string,
  appId: string,
  count: number,
  token?: (index: number) => Promise<string>,
): Promise<{ perSecond: number; medianMs: number }> {
  const tokens =
    token === undefined ? [] : await Promise.all(Array.from({ length: count + 20 }, (_, index) => token(index)));
  const times: number[] = [];
  let started = 0;
  for (let index = 0; index < count + 20; index++) {
    // The first 20 warm up (and fetch the JWKS once).
    if (index === 20) started = performance.now();
    const begin = performance.now();
    const socket = await openProtocolSocket(serverUrl, appId, `c${index}`, tokens[index]);
    if (index >= 20) times.push(performance.now() - begin);
    await socket.close();
  }
  return { perSecond: count / ((performance.now() - started) / 1000), medianMs: median(times) };
}

/** Runs the comparison: `devServerUrl` is a development-mode server of the same build. */
export async function authCost(devServerUrl: string, count: number): Promise<AuthCostResult> {
  const rsa = await generateKeyPair("RS256");
  const jwks: Server = createServer(async (_, response) => {
    response
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ keys: [{ ...(await exportJWK(rsa.publicKey)), kid: "idp", alg: "RS256", use: "sig" }] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  const server = await startServerProcess({ args: ["--admin-secret", ADMIN, "--jwt-secret", JWT_SECRET] });
  try {
    const admin = async (body: unknown) => {
      const response = await fetch(`${server.url}/v1/admin/apps`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (response.status !== 201)
        throw new Error(`creating an app failed: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { id: string }).id;
    };
    const plain = await admin({ name: "server secret" });
    const pem = await admin({
      name: "rs256",
      auth: { keys: [{ id: "pem", publicKey: await exportSPKI(rsa.publicKey), algorithm: "RS256" }] },
    });
    const remote = await admin({
      name: "jwks",
      auth: { keys: [{ id: "idp", jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json` }] },
    });
    const hs256 = (index: number) =>
      new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject(`u${index}`)
        .setExpirationTime("1h")
        .sign(new TextEncoder().encode(JWT_SECRET));
    const rs256 = (kid: string) => (index: number) =>
      new SignJWT({})
        .setProtectedHeader({ alg: "RS256", kid })
        .setSubject(`u${index}`)
        .setExpirationTime("1h")
        .sign(rsa.privateKey);
    const rows = [
      { mode: "development (no token)", ...(await setupRate(devServerUrl, "bench-auth", count)) },
      { mode: "HS256, the server's secret", ...(await setupRate(server.url, plain, count, hs256)) },
      { mode: "RS256, the app's public key", ...(await setupRate(server.url, pem, count, rs256("pem"))) },
      { mode: "RS256, the app's JWKS (cached)", ...(await setupRate(server.url, remote, count, rs256("idp"))) },
    ];
    return { connections: count, rows };
  } finally {
    await server.stop();
    removeDataDir(server.dataDir);
    await new Promise((resolve) => jwks.close(resolve));
  }
}
