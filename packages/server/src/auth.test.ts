import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROTOCOL_VERSION } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import { exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createServer, type TrellisServer } from "./server.js";
import { closeAllSockets, connect, documentTriples, openSocket, post, query, writer } from "./testing/raw-socket.js";

const SECRET = "a-test-secret-of-enough-length";
const hlc = writer("auth");

afterEach(() => closeAllSockets());

async function hs256(payload: JWTPayload, secret = SECRET, expiresIn: string | number = "5m"): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

/** Says hello with these credentials; expects an UNAUTHORIZED error and a close. */
async function expectRefused(url: string, credentials: { token?: string; userId?: string }): Promise<string> {
  const socket = await openSocket(url);
  socket.send({ type: "hello", protocol: PROTOCOL_VERSION, appId: "secure", clientId: "c", ...credentials });
  // Frames sent while the token is checked are dropped with the connection, never run.
  socket.send({ type: "subscribe", queryId: "q", query: query("todos"), cursor: null });
  const error = await socket.next("error");
  expect(error.code).toBe("UNAUTHORIZED");
  expect((await socket.closed).code).toBe(1008);
  expect(socket.pending()).toEqual([]);
  return error.message;
}

describe("development mode (no auth configured)", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess();
  });
  afterAll(async () => {
    await server.stop();
    removeDataDir(server.dataDir);
  });

  it("says so at start, and that without permission rules everyone may do everything", () => {
    expect(server.output()).toContain("DEVELOPMENT MODE");
    expect(server.output()).toContain("NO PERMISSIONS");
  });

  it("trusts the claimed user id, and has none when none is claimed", async () => {
    expect((await connect(server.url, "dev", { userId: "alice" })).welcome.userId).toBe("alice");
    expect((await connect(server.url, "dev")).welcome.userId).toBeNull();
  });

  it("ignores a token it cannot check", async () => {
    expect((await connect(server.url, "dev", { userId: "bob", token: "not-a-jwt" })).welcome.userId).toBe("bob");
    expect((await post(server.url, "/v1/query", { appId: "dev", query: query("todos"), cursor: null })).status).toBe(
      200,
    );
  });
});

describe("HS256 tokens (--jwt-secret)", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess({ args: ["--jwt-secret", SECRET] });
  });
  afterAll(async () => {
    await server.stop();
    removeDataDir(server.dataDir);
  });

  it("does not claim development mode", () => {
    expect(server.output()).not.toContain("DEVELOPMENT MODE");
  });

  it("takes the user id from the token's sub and ignores a claimed one", async () => {
    const socket = await connect(server.url, "secure", { token: await hs256({ sub: "user-1" }), userId: "mallory" });
    expect(socket.welcome.userId).toBe("user-1");
    socket.send({ type: "subscribe", queryId: "q", query: query("todos"), cursor: null });
    await socket.next("snapshot");
  });

  it("runs frames sent while the token is checked once it is accepted", async () => {
    const socket = await openSocket(server.url);
    socket.send({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      appId: "secure",
      clientId: "c",
      token: await hs256({ sub: "user-2" }),
    });
    socket.send({
      type: "push",
      batchId: "early",
      triples: documentTriples("todos", "early", { title: "early" }, hlc),
    });
    socket.send({ type: "subscribe", queryId: "q", query: query("todos"), cursor: null });
    expect(await socket.next(["welcome", "ack", "snapshot", "error"])).toMatchObject({
      type: "welcome",
      userId: "user-2",
    });
    await socket.next("ack", (ack) => ack.batchId === "early");
    await socket.next("snapshot", (snapshot) => snapshot.queryId === "q");
    await socket.sync();
    expect(socket.pending()).toEqual([]);
  });

  it("refuses a missing, expired, badly signed or subject-less token and closes", async () => {
    expect(await expectRefused(server.url, {})).toMatch(/requires a token/);
    expect(await expectRefused(server.url, { userId: "alice" })).toMatch(/requires a token/);
    expect(
      await expectRefused(server.url, {
        token: await hs256({ sub: "user-1" }, SECRET, Math.floor(Date.now() / 1000) - 60),
      }),
    ).toMatch(/exp/);
    expect(
      await expectRefused(server.url, { token: await hs256({ sub: "user-1" }, "another-secret-of-enough-length") }),
    ).toMatch(/signature/);
    expect(await expectRefused(server.url, { token: await hs256({}) })).toMatch(/sub/);
    expect(await expectRefused(server.url, { token: "not.a.jwt" })).toMatch(/refused/);
    const unsigned = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from('{"sub":"root"}').toString("base64url")}.`;
    await expectRefused(server.url, { token: unsigned });
  });

  it("answers HTTP requests without a good token with 401", async () => {
    const body = { appId: "secure", query: query("todos"), cursor: null };
    const pushBody = {
      appId: "secure",
      clientId: "c",
      batchId: "b",
      triples: documentTriples("todos", "http", { title: "no" }, hlc),
    };
    const expired = await hs256({ sub: "user-1" }, SECRET, Math.floor(Date.now() / 1000) - 60);
    const forged = await hs256({ sub: "user-1" }, "another-secret-of-enough-length");
    const refused: Array<Record<string, string>> = [
      {},
      { "x-trellis-user": "alice" },
      { authorization: `Bearer ${expired}` },
      { authorization: `Bearer ${forged}` },
      { authorization: "Basic abc" },
    ];
    for (const headers of refused) {
      for (const [path, request] of [
        ["/v1/query", body],
        ["/v1/push", pushBody],
      ] as const) {
        const answer = await post(server.url, path, request, headers);
        expect(answer.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(answer.body).toEqual({ error: { code: "UNAUTHORIZED", message: expect.any(String) } });
      }
    }
    const token = await hs256({ sub: "user-1" });
    expect((await post(server.url, "/v1/query", body, { authorization: `Bearer ${token}` })).status).toBe(200);
    // Refused pushes stored nothing.
    const stored = await post(server.url, "/v1/query", body, { authorization: `Bearer ${token}` });
    expect(stored.body.triples.map((triple: { id: string }) => triple.id)).not.toContain("http");
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

describe.each(["RS256", "ES256"] as const)("%s tokens checked with a public key", (algorithm) => {
  let server: TrellisServer;
  let dataDir: string;
  let sign: (payload: JWTPayload) => Promise<string>;
  let signWithOtherKey: (payload: JWTPayload) => Promise<string>;
  let publicPem: string;
  const logged: string[] = [];

  beforeAll(async () => {
    const [keys, otherKeys] = await Promise.all([generateKeyPair(algorithm), generateKeyPair(algorithm)]);
    publicPem = await exportSPKI(keys.publicKey);
    sign = (payload) =>
      new SignJWT(payload).setProtectedHeader({ alg: algorithm }).setExpirationTime("5m").sign(keys.privateKey);
    signWithOtherKey = (payload) =>
      new SignJWT(payload).setProtectedHeader({ alg: algorithm }).setExpirationTime("5m").sign(otherKeys.privateKey);
    dataDir = mkdtempSync(join(tmpdir(), "trellis-auth-"));
    server = await createServer({
      port: 0,
      dataDir,
      auth: { publicKey: publicPem, algorithm },
      log: (level, message) => logged.push(`${level} ${message}`),
    });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("takes the user id from a token signed with the private key", async () => {
    expect(logged.join("\n")).not.toContain("DEVELOPMENT MODE");
    expect(
      (await connect(server.url, "keys", { token: await sign({ sub: "key-user" }), userId: "mallory" })).welcome.userId,
    ).toBe("key-user");
    const answer = await post(
      server.url,
      "/v1/query",
      { appId: "keys", query: query("todos"), cursor: null },
      { authorization: `Bearer ${await sign({ sub: "key-user" })}` },
    );
    expect(answer.status).toBe(200);
  });

  it("refuses tokens signed with another key, or HS256 with the public key as secret", async () => {
    expect(await expectRefused(server.url, { token: await signWithOtherKey({ sub: "key-user" }) })).toMatch(
      /signature/,
    );
    // Algorithm confusion: an HMAC keyed with the (public) PEM text must not pass.
    const confused = await hs256({ sub: "key-user" }, publicPem);
    await expectRefused(server.url, { token: confused });
    const answer = await post(
      server.url,
      "/v1/query",
      { appId: "keys", query: query("todos"), cursor: null },
      { authorization: `Bearer ${confused}` },
    );
    expect(answer).toEqual({ status: 401, body: { error: expect.objectContaining({ code: "UNAUTHORIZED" }) } });
  });

  it("accepts the public key as a JWK too", async () => {
    const keys = await generateKeyPair(algorithm, { extractable: true });
    const jwkDir = mkdtempSync(join(tmpdir(), "trellis-auth-jwk-"));
    const jwkServer = await createServer({
      port: 0,
      dataDir: jwkDir,
      auth: { publicKey: await exportJWK(keys.publicKey), algorithm },
      log: () => {},
    });
    try {
      const token = await new SignJWT({ sub: "jwk-user" })
        .setProtectedHeader({ alg: algorithm })
        .setExpirationTime("5m")
        .sign(keys.privateKey);
      expect((await connect(jwkServer.url, "keys", { token })).welcome.userId).toBe("jwk-user");
      await expectRefused(jwkServer.url, { token: await sign({ sub: "key-user" }) });
    } finally {
      await closeAllSockets();
      await jwkServer.close();
      rmSync(jwkDir, { recursive: true, force: true });
    }
  });
});

describe("auth options", () => {
  it("refuses a short secret or an unknown algorithm at start", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "trellis-auth-options-"));
    try {
      await expect(createServer({ port: 0, dataDir, auth: { jwtSecret: "short" }, log: () => {} })).rejects.toThrow(
        /at least 16 characters/,
      );
      await expect(
        createServer({ port: 0, dataDir, auth: { publicKey: "x", algorithm: "HS256" as never }, log: () => {} }),
      ).rejects.toThrow(/RS256/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
