import { encodeHlc, type NormalizedQuery } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { fetchQuery, type HttpContext, parseSyncPayload, pushEntry } from "./http.js";

const HLC = encodeHlc({ ticks: 5, node: "server" });
const TRIPLE = { collection: "users", id: "u1", field: "name", value: "Ada", hlc: HLC };
const QUERY: NormalizedQuery = {
  collection: "users",
  select: ["name"],
  where: [],
  orderBy: [],
  limit: undefined,
  specs: {},
};

function setup(answer: () => Response | Promise<Response>, overrides: Partial<HttpContext> = {}) {
  const requests: Array<{ url: string; headers: Record<string, string>; body: unknown }> = [];
  const context: HttpContext = {
    serverUrl: "http://127.0.0.1:8787/",
    appId: "app",
    clientId: "c1",
    userId: "alice",
    token: async () => "a.b.c",
    fetch: async (url, init) => {
      const headers = init!.headers as Record<string, string>;
      const text = init!.body as string;
      // A push streams as lines: the envelope, then one triple per line.
      const body =
        headers["content-type"] === "application/x-ndjson"
          ? text.split("\n").map((line) => JSON.parse(line) as unknown)
          : (JSON.parse(text) as unknown);
      requests.push({ url: String(url), headers, body });
      return answer();
    },
    ...overrides,
  };
  return { context, requests };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("fetchQuery", () => {
  it("POSTs the query with the app, the token and the development user, and returns the checked answer", async () => {
    const { context, requests } = setup(() => json(200, { triples: [TRIPLE], cursor: "9" }));
    expect(await fetchQuery(context, QUERY)).toEqual({ data: { triples: [TRIPLE], cursor: "9" }, error: undefined });
    expect(requests).toEqual([
      {
        url: "http://127.0.0.1:8787/v1/query",
        headers: {
          "content-type": "application/json",
          "x-trellis-app": "app",
          authorization: "Bearer a.b.c",
          "x-trellis-user": "alice",
        },
        body: { appId: "app", query: JSON.parse(JSON.stringify(QUERY)), cursor: null },
      },
    ]);
  });

  it("sends no credentials it does not have", async () => {
    const { context, requests } = setup(() => json(200, { triples: [], cursor: "1" }), {
      token: async () => undefined,
      userId: undefined,
    });
    await fetchQuery(context, QUERY);
    expect(requests[0]!.headers).toEqual({ "content-type": "application/json", "x-trellis-app": "app" });
  });

  it("returns the server's error with its code", async () => {
    const { context } = setup(() => json(401, { error: { code: "UNAUTHORIZED", message: "No token." } }));
    const { error } = await fetchQuery(context, QUERY);
    expect([error?.code, error?.message]).toEqual(["UNAUTHORIZED", "No token."]);
  });

  it("calls an answer without a Trellis error, or no answer at all, a NETWORK error", async () => {
    const proxy = await fetchQuery(setup(() => new Response("Bad gateway", { status: 502 })).context, QUERY);
    expect(proxy.error?.code).toBe("NETWORK");
    expect(proxy.error?.details).toEqual({ status: 502 });
    const refused = await fetchQuery(setup(() => Promise.reject(new TypeError("fetch failed"))).context, QUERY);
    expect(refused.error?.code).toBe("NETWORK");
    expect(refused.error?.message).toContain("fetch failed");
  });

  it("refuses a malformed answer", async () => {
    const { error } = await fetchQuery(
      setup(() => json(200, { triples: [{ ...TRIPLE, hlc: "soon" }], cursor: "1" })).context,
      QUERY,
    );
    expect(error?.code).toBe("PROTOCOL");
    expect(error?.message).toContain("triples[0].hlc");
  });
});

describe("pushEntry", () => {
  it("POSTs the entry as lines (its envelope, then a triple per line) and accepts the acknowledgement", async () => {
    const { context, requests } = setup(() => json(200, { batchId: "b1", cursor: "3" }));
    expect(
      await pushEntry(context, { batchId: "b1", triples: [TRIPLE, { ...TRIPLE, field: "done", value: true }] }),
    ).toEqual({ data: undefined, error: undefined });
    expect(requests[0]!.url).toBe("http://127.0.0.1:8787/v1/push");
    expect(requests[0]!.headers["content-type"]).toBe("application/x-ndjson");
    expect(requests[0]!.body).toEqual([
      { appId: "app", clientId: "c1", batchId: "b1" },
      TRIPLE,
      { ...TRIPLE, field: "done", value: true },
    ]);
  });

  it("returns a refusal with its code", async () => {
    const { context } = setup(() =>
      json(400, { error: { code: "CLOCK_DRIFT", message: "Too far ahead.", details: { batchId: "b1" } } }),
    );
    expect((await pushEntry(context, { batchId: "b1", triples: [TRIPLE] })).error?.code).toBe("CLOCK_DRIFT");
  });
});

describe("parseSyncPayload", () => {
  it("checks triples and cursor with the protocol's rules", () => {
    expect(parseSyncPayload({ triples: [], cursor: "1" }, "x").data).toEqual({ triples: [], cursor: "1" });
    expect(parseSyncPayload({ triples: [], cursor: "" }, "Preloaded data").error?.message).toMatch(
      /^Preloaded data is malformed: .*cursor/,
    );
    expect(parseSyncPayload([], "x").error?.code).toBe("PROTOCOL");
    expect(
      parseSyncPayload(JSON.parse(`{"triples":[],"cursor":"1","__proto__":{"x":1}}`), "x").error?.message,
    ).toContain("__proto__");
  });
});
