import { describe, expect, it } from "vitest";
import { createClock, encodeHlc } from "../hlc.js";
import { normalizeQuery } from "../query/normalize.js";
import type { NormalizedQuery } from "../query/normalized-query.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import { DELETED_FIELD, type Triple } from "../triples.js";
import { type ClientMessage, PROTOCOL_VERSION, type ServerMessage } from "./messages.js";
import { jsonShape, MAX_CONTAINERS, MAX_FRAME_DEPTH, MAX_VALUE_CONTAINERS } from "./json-shape.js";
import {
  MAX_VALUE_DEPTH,
  parseClientMessage,
  parseClientValue,
  parseServerMessage,
  parseServerValue,
} from "./parse.js";
import { isJson, validateWrite } from "../schema/validate.js";

const schema = createSchema({
  entities: {
    users: {
      name: t.string({ fallback: "anon" }),
      age: t.number({ optional: true }),
      joined: t.date({ fallback: "now" }),
    },
    tags: { label: t.string({ optional: true }) },
    posts: {
      title: t.string({ fallback: "untitled" }),
      authorId: t.ref("users"),
      tagIds: t.refMany("tags"),
      meta: t.json({ optional: true }),
    },
    comments: { text: t.string({ optional: true }), postId: t.ref("posts") },
  },
});
const collections = schema.collections;

const HLC = encodeHlc({ ticks: 123_456, node: "client-1" });
const simpleQuery: NormalizedQuery = {
  collection: "users",
  select: ["name"],
  where: [{ field: "age", op: "greaterThan", operand: 3 }],
  orderBy: [["name", "asc"]],
  limit: 10,
  specs: { name: { type: "string", optional: false, fallback: "anon" }, age: { type: "number", optional: true } },
};

function realQuery(): NormalizedQuery {
  const result = normalizeQuery(
    collections.posts!,
    {
      fields: {
        title: true,
        authorId: { fields: { name: true } },
        tagIds: { fields: { label: true }, orderBy: ["label", "asc"] },
        comments: { fields: { text: true }, limit: 3, where: { text: { startsWith: "a" } } },
      },
      where: { title: { in: ["a", "b"] }, tagIds: "tag-1" },
      orderBy: ["createdAt", "desc"],
      limit: 5,
    },
    collections,
  );
  if (result.error) throw result.error;
  return result.data;
}

function realTriples(): Triple[] {
  const store = new TripleStore();
  const clock = createClock({ node: "client-1", wallClock: () => 1_700_000_000_000 });
  store.setFields(
    "users",
    "u1",
    [
      ["name", "Ada"],
      ["age", 36],
      ["joined", 1_600_000_000_000],
    ],
    clock.now(),
  );
  store.setFields(
    "posts",
    "p1",
    [
      ["title", "Hello"],
      ["authorId", "u1"],
      ["meta", { nested: [1, { a: null }] }],
    ],
    clock.now(),
  );
  store.setElement("posts", "p1", "tagIds", "tag-1", true, clock.now());
  store.setElement("posts", "p1", "tagIds", "tag-2", false, clock.now());
  store.setField("users", "u1", "age", null, clock.now());
  store.delete("comments", "c1", clock.now());
  return [...store.triples()];
}

function client(message: unknown): ReturnType<typeof parseClientMessage> {
  return parseClientMessage(JSON.stringify(message));
}

function refusedClient(text: string, ...fragments: string[]): string {
  const { data, error } = parseClientMessage(text);
  expect(data).toBeUndefined();
  expect(error?.code).toBe("PROTOCOL");
  for (const fragment of fragments) expect(error!.message).toContain(fragment);
  return error!.message;
}

function refused(message: unknown, ...fragments: string[]): string {
  return refusedClient(JSON.stringify(message), ...fragments);
}

function refusedServer(message: unknown, ...fragments: string[]): string {
  const { data, error } = parseServerMessage(typeof message === "string" ? message : JSON.stringify(message));
  expect(data).toBeUndefined();
  expect(error?.code).toBe("PROTOCOL");
  for (const fragment of fragments) expect(error!.message).toContain(fragment);
  return error!.message;
}

const hello = { type: "hello", protocol: PROTOCOL_VERSION, appId: "my-app", clientId: "client_1" };
const push = (triples: unknown[]) => ({ type: "push", batchId: "b1", triples });
const subscribe = (query: unknown) => ({ type: "subscribe", queryId: "q1", query, cursor: null });
const triple = (overrides: Record<string, unknown>) => ({
  collection: "users",
  id: "u1",
  field: "name",
  value: "Ada",
  hlc: HLC,
  ...overrides,
});

describe("round trips", () => {
  it("parses every client message back to an equal typed value", () => {
    const messages: ClientMessage[] = [
      { type: "hello", protocol: PROTOCOL_VERSION, appId: "app", clientId: "c-1" },
      {
        type: "hello",
        protocol: PROTOCOL_VERSION,
        appId: "app",
        clientId: "c-1",
        token: "a.b.c",
        userId: "user@example.com",
      },
      { type: "subscribe", queryId: "q1", query: simpleQuery, cursor: null },
      {
        type: "subscribe",
        queryId: "q2",
        query: { ...simpleQuery, limit: undefined, after: { keys: ["Ada", null], id: "u1" } },
        cursor: "42",
      },
      { type: "subscribe", queryId: "q3", query: realQuery(), cursor: "7" },
      { type: "unsubscribe", queryId: "q1" },
      { type: "push", batchId: "batch_1", triples: realTriples() },
      { type: "push", batchId: "empty", triples: [] },
      { type: "ping" },
    ];
    for (const message of messages) {
      const { data, error } = client(message);
      expect(error).toBeUndefined();
      expect(data).toEqual(message);
    }
  });

  it("keeps a real normalized query with relations intact, limit included", () => {
    const query = realQuery();
    expect(query.relations?.length).toBe(3);
    const { data } = client(subscribe(query));
    expect(data?.type === "subscribe" && data.query).toEqual(query);
    const { data: noLimit } = client(subscribe({ ...simpleQuery, limit: undefined }));
    expect(noLimit?.type === "subscribe" && Object.hasOwn(noLimit.query, "limit")).toBe(true);
  });

  it("keeps real TripleStore triples intact: registers, set elements, nulls, tombstones", () => {
    const triples = realTriples();
    expect(triples.some((each) => each.field === DELETED_FIELD)).toBe(true);
    expect(triples.some((each) => each.element !== undefined && each.value === false)).toBe(true);
    expect(triples.some((each) => each.value === null)).toBe(true);
    const { data } = client(push(triples));
    expect(data).toEqual({ type: "push", batchId: "b1", triples });
  });

  it("parses every server message back to an equal typed value", () => {
    const messages: ServerMessage[] = [
      { type: "welcome", serverHlc: HLC, userId: "u1" },
      { type: "welcome", serverHlc: HLC, userId: null },
      { type: "snapshot", queryId: "q1", triples: realTriples(), cursor: "12" },
      { type: "snapshotPart", queryId: "q1", triples: realTriples(), documents: 2, total: 10 },
      { type: "changes", triples: realTriples(), cursor: "13" },
      { type: "changes", triples: [], cursor: "13", revoked: [{ collection: "notes", id: "n1" }] },
      { type: "snapshot", queryId: "q1", triples: [], cursor: "13", revoked: [{ collection: "notes", id: "n1" }] },
      { type: "ack", batchId: "b1", cursor: "14" },
      { type: "error", code: "CLOCK_DRIFT", message: "too far ahead", details: { aheadMs: 90_000 } },
      { type: "error", code: "PROTOCOL", message: "bad" },
      { type: "pong" },
    ];
    for (const message of messages) {
      const { data, error } = parseServerMessage(JSON.stringify(message));
      expect(error).toBeUndefined();
      expect(data).toEqual(message);
    }
  });
});

describe("already-parsed values (HTTP bodies)", () => {
  it("runs the frame checks without a size limit or a second JSON pass", () => {
    const triples = [
      {
        collection: "users",
        id: "u1",
        field: "name",
        value: "x".repeat(2 * 1024 * 1024),
        hlc: encodeHlc({ ticks: 1, node: "a" }),
      },
    ];
    expect(parseClientValue({ type: "push", batchId: "b1", triples }).data).toEqual({
      type: "push",
      batchId: "b1",
      triples,
    });
    const poisoned = JSON.parse(
      '{"type":"push","batchId":"b1","triples":[{"collection":"users","id":"u1","field":"name","hlc":"00000000001-a","value":{"__proto__":{"x":1}}}]}',
    );
    expect(parseClientValue(poisoned).error).toMatchObject({ code: "PROTOCOL", details: { key: "__proto__" } });
    expect(parseClientValue([]).error?.message).toContain("expected a JSON object");
    expect(parseServerValue({ type: "ack", batchId: "b1", cursor: "7" }).data).toEqual({
      type: "ack",
      batchId: "b1",
      cursor: "7",
    });
    expect(parseServerValue({ type: "ack", batchId: "b 1", cursor: "7" }).error?.details).toEqual({ path: "batchId" });
  });
});

describe("frame-level rejections", () => {
  it("refuses oversized frames before parsing them", () => {
    const big = JSON.stringify(push([triple({ value: "x".repeat(2 * 1024 * 1024) })]));
    refusedClient(big, "larger than the limit of 1048576 bytes");
    expect(parseClientMessage(JSON.stringify(hello), { maxBytes: 10 }).error?.details).toEqual({ maxBytes: 10 });
    // Multi-byte characters count as UTF-8 bytes, not code units.
    const text = JSON.stringify(push([triple({ value: "é".repeat(400) })]));
    const bytes = new TextEncoder().encode(text).length;
    expect(bytes).toBe(text.length + 400);
    expect(parseClientMessage(text, { maxBytes: bytes - 1 }).error?.message).toContain("larger than the limit");
    expect(parseClientMessage(text, { maxBytes: bytes }).error).toBeUndefined();
    const emoji = JSON.stringify(push([triple({ value: "😀".repeat(100) })]));
    const emojiBytes = new TextEncoder().encode(emoji).length;
    expect(parseClientMessage(emoji, { maxBytes: emojiBytes - 1 }).error?.message).toContain("larger than the limit");
    expect(parseClientMessage(emoji, { maxBytes: emojiBytes }).error).toBeUndefined();
    // Not valid JSON but too big: the size check answers first.
    expect(parseClientMessage("{".repeat(2_000_000)).error?.message).toContain("larger than the limit");
  });

  it("refuses non-JSON, non-objects and non-text frames", () => {
    refusedClient("", "not valid JSON");
    refusedClient("{type: 'ping'}", "not valid JSON");
    refusedClient('{"type":"ping"', "not valid JSON");
    refusedClient("null", "expected a JSON object, got null");
    refusedClient("[]", "expected a JSON object, got an array");
    refusedClient('"ping"', "expected a JSON object");
    refusedClient("42", "expected a JSON object");
    expect(parseClientMessage(42 as unknown as string).error?.message).toContain("expected a text frame");
    expect(parseClientMessage(new Uint16Array([1, 2]) as unknown as string).error?.message).toContain(
      "expected a text frame",
    );
    expect(parseClientMessage(new TextEncoder().encode('{"type":"ping"}')).data).toEqual({ type: "ping" });
    refusedServer("not json", "not valid JSON");
  });

  it("never throws on absurd nesting, and refuses it before parsing, as text or as bytes", () => {
    const deep = `{"type":"push","batchId":"b","triples":[{"collection":"a","id":"x","field":"f","hlc":"${HLC}","value":${"[".repeat(100_000)}${"]".repeat(100_000)}}]}`;
    for (const frame of [deep, new TextEncoder().encode(deep)]) {
      expect(parseClientMessage(frame).error).toMatchObject({
        code: "PROTOCOL",
        message: expect.stringContaining(`nests deeper than ${MAX_FRAME_DEPTH} levels`),
      });
    }
    // What a server sends is not held to it (its snapshots may hold many documents): it is parsed.
    expect(parseServerMessage(deep).error?.message).toContain("unknown message type");
  });

  it("refuses a frame of more arrays and objects than it may hold, and a value of more than a value may hold", () => {
    const empties = `{"type":"emit","roomType":"doc","roomId":"r","event":"e","data":[${Array.from({ length: MAX_CONTAINERS }, () => "{}").join(",")}]}`;
    refusedClient(empties, `holds more than ${MAX_CONTAINERS} arrays and objects`);
    const points = (count: number) => Array.from({ length: count }, (_, x) => ({ x }));
    expect(client(push([triple({ value: points(MAX_VALUE_CONTAINERS - 1) })])).error).toBeUndefined();
    refused(
      push([triple({ value: points(MAX_VALUE_CONTAINERS) })]),
      "triples[0].value",
      `values hold at most ${MAX_VALUE_CONTAINERS} arrays and objects`,
    );
    // The client refuses to write such a value: a push of it could never be stored.
    expect(
      validateWrite(collections.posts!, { meta: points(MAX_VALUE_CONTAINERS - 1) }, "update", 0).error,
    ).toBeUndefined();
    expect(
      validateWrite(collections.posts!, { meta: points(MAX_VALUE_CONTAINERS) }, "update", 0).error?.message,
    ).toContain(`at most ${MAX_VALUE_CONTAINERS} arrays and objects`);
  });

  it("accepts the deepest query the protocol allows within the frame's depth", () => {
    const nested = (depth: number): unknown => (depth === 0 ? 1 : [nested(depth - 1)]);
    let where: unknown[] = [{ field: "name", op: "equals", operand: nested(MAX_VALUE_DEPTH) }];
    for (let level = 0; level < 8; level++) where = [level % 2 === 0 ? { not: where } : { or: [where, []] }];
    const relation = {
      name: "authorId",
      cardinality: "one",
      direction: "forward",
      link: "authorId",
      linkSpec: { type: "ref", optional: true, target: "users" },
    };
    let query: unknown = { ...simpleQuery, where };
    for (let level = 0; level < 8; level++) query = { ...simpleQuery, relations: [{ ...relation, query }] };
    const frame = JSON.stringify(subscribe(query));
    expect(parseClientMessage(frame).error).toBeUndefined();
    expect(jsonShape(frame, MAX_FRAME_DEPTH / 2).isTooDeep).toBe(false);
  });

  it("refuses every JSON value nested deeper than the client's t.json limit, and accepts one at it", () => {
    const nested = (depth: number): unknown => (depth === 0 ? 1 : [nested(depth - 1)]);
    const objects = (depth: number): unknown => (depth === 0 ? "leaf" : { a: objects(depth - 1) });
    // The deepest value the client's validation accepts is the deepest the server accepts.
    expect(isJson(nested(MAX_VALUE_DEPTH))).toBe(true);
    expect(isJson(nested(MAX_VALUE_DEPTH + 1))).toBe(false);
    expect(client(push([triple({ value: nested(MAX_VALUE_DEPTH) })])).error).toBeUndefined();
    expect(client(push([triple({ value: objects(MAX_VALUE_DEPTH) })])).error).toBeUndefined();
    const tooDeep = nested(MAX_VALUE_DEPTH + 1);
    refused(push([triple({ value: tooDeep })]), "triples[0].value", "nest at most 64");
    refused(push([triple({ value: objects(MAX_VALUE_DEPTH + 1) })]), "triples[0].value");
    refused({ type: "emit", roomType: "doc", roomId: "r", event: "e", data: tooDeep }, "data: values nest");
    refused({ type: "join", roomType: "doc", roomId: "r", userStatus: { cursor: tooDeep } }, "userStatus.cursor");
    refused({ type: "setUserStatus", roomType: "doc", roomId: "r", status: { cursor: tooDeep } }, "status.cursor");
    refused({ type: "setRoomStatus", roomType: "doc", roomId: "r", status: { title: tooDeep } }, "status.title");
    refused(
      subscribe({ ...simpleQuery, where: [{ field: "name", op: "equals", operand: tooDeep }] }),
      "query.where[0].operand",
    );
    refused(subscribe({ ...simpleQuery, after: { keys: [tooDeep], id: "x" } }), "query.after.keys");
    refused(
      subscribe({
        ...simpleQuery,
        specs: { ...simpleQuery.specs, name: { type: "json", optional: true, fallback: tooDeep } },
      }),
      "fallback",
    );
    refusedServer({ type: "error", code: "INTERNAL", message: "m", details: { x: tooDeep } }, "details");
    refusedServer(
      { type: "roomEvent", roomType: "doc", roomId: "r", event: "e", data: tooDeep, userId: null, hlc: HLC },
      "data",
    );
  });

  it("refuses ids with a lone surrogate, and accepts well-formed ones beyond the BMP", () => {
    for (const id of ["\ud800x", "x\udc00", "\udc00\ud800", "a\ud83d"]) {
      refused(push([triple({ id })]), "triples[0].id", "lone UTF-16 surrogate");
      refused(push([triple({ field: "tagIds", element: id, value: true })]), "triples[0].element");
    }
    refused({ type: "join", roomType: "doc", roomId: "\ud800", userStatus: {} }, "roomId");
    refused({ ...hello, userId: "\udfff" }, "userId");
    expect(client(push([triple({ id: "😀-ok" })])).error).toBeUndefined();
  });

  it("bounds the shape of a query: relations in all, conditions, fields and sort keys", () => {
    const withRelations = (count: number) => ({
      ...simpleQuery,
      relations: Array.from({ length: count }, (_, index) => ({
        name: `r${index}`,
        cardinality: "one",
        direction: "forward",
        link: "name",
        linkSpec: { type: "ref", optional: true, target: "users" },
        query: simpleQuery,
      })),
    });
    expect(client(subscribe(withRelations(32))).error).toBeUndefined();
    refused(subscribe(withRelations(33)), "query.relations", "at most 32");
    // Spread over levels, they count together.
    const chain = (levels: number, width: number): unknown => ({
      ...withRelations(width),
      relations: withRelations(width).relations.map((each) => ({
        ...each,
        query: levels > 1 ? chain(levels - 1, width) : simpleQuery,
      })),
    });
    refused(subscribe(chain(3, 4)), "at most 32 relations at all levels");
    const conditions = Array.from({ length: 65 }, () => ({ field: "name", op: "equals", operand: "x" }));
    refused(subscribe({ ...simpleQuery, where: conditions }), "query.where", "at most 64 conditions");
    refused(
      subscribe({ ...simpleQuery, orderBy: Array.from({ length: 17 }, () => ["name", "asc"]) }),
      "query.orderBy",
      "at most 16",
    );
    refused(
      subscribe({ ...simpleQuery, select: Array.from({ length: 513 }, () => "name") }),
      "query.select",
      "at most 512",
    );
  });

  it("takes or and not in a query's where, bounded in depth and in all, and checks what is inside", () => {
    const withWhere = (where: unknown) => subscribe({ ...simpleQuery, where });
    const equalsAda = { field: "name", op: "equals", operand: "Ada" };
    expect(client(withWhere([{ or: [[equalsAda], []] }, { not: [equalsAda] }])).data).toMatchObject({
      query: { where: [{ or: [[equalsAda], []] }, { not: [equalsAda] }] },
    });
    refused(withWhere([{ or: [] }]), "query.where[0].or", "at least one branch");
    refused(withWhere([{ or: "x" }]), "query.where[0].or", "expected an array");
    refused(withWhere([{ not: [{ field: "name", op: "like", operand: 1 }] }]), "query.where[0].not[0].op");
    refused(withWhere([{ not: [{ field: "nope", op: "equals", operand: 1 }] }]), "no spec for the field");
    refused(withWhere([{ or: [[equalsAda]], not: [] }]), "query.where[0]", "unknown key");
    let deep: unknown = equalsAda;
    for (let i = 0; i < 9; i++) deep = { not: [deep] };
    refused(withWhere([deep]), "nest at most 8 deep");
    const wide = { or: Array.from({ length: 60 }, () => [equalsAda, equalsAda, equalsAda, equalsAda, equalsAda]) };
    refused(withWhere([wide]), "at most 256 conditions at all levels together");
  });

  it("refuses unknown message types", () => {
    refused({ type: "delete" }, 'unknown message type the string "delete"', "hello, subscribe");
    refused({ protocol: 1 }, "unknown message type undefined");
    refused({ type: 7 }, "unknown message type number 7");
    refused({ type: "welcome", serverHlc: HLC, userId: null }, "unknown message type"); // a server message from a client
    refusedServer({ type: "hello" }, "unknown message type", "welcome, snapshot");
  });

  it("refuses __proto__, constructor and prototype keys anywhere", () => {
    refusedClient('{"type":"ping","__proto__":{"polluted":true}}', '"__proto__" is not allowed');
    refused(push([triple({ value: { deep: [{ constructor: 1 }] } })]), '"constructor" is not allowed');
    refused(push([triple({ value: { prototype: {} } })]), '"prototype" is not allowed');
    refusedClient(
      `{"type":"push","batchId":"b","triples":[{"collection":"users","id":"u","field":"f","hlc":"${HLC}","value":{"a":{"__proto__":{"x":1}}}}]}`,
      "__proto__",
    );
    refused(subscribe({ ...simpleQuery, specs: { constructor: { type: "string", optional: true } } }), "constructor");
    refusedServer('{"type":"error","code":"PROTOCOL","message":"m","details":{"__proto__":{}}}', "__proto__");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses forbidden names given as values", () => {
    refused(push([triple({ field: "__proto__" })]), "triples[0].field");
    refused(push([triple({ collection: "constructor" })]), "triples[0].collection");
    refused(subscribe({ ...simpleQuery, select: ["prototype"] }), "query.select[0]");
  });
});

describe("client message rejections", () => {
  it("checks hello: protocol version, app and client ids, token and userId types", () => {
    refused({ ...hello, protocol: 2 }, "protocol version 1, got number 2");
    refused({ ...hello, protocol: "1" }, "protocol version 1");
    refused({ ...hello, protocol: undefined }, "protocol version 1, got undefined");
    for (const bad of ["", "a b", "../etc", "x".repeat(65), "é", 42, null]) {
      refused({ ...hello, appId: bad }, "appId", "[A-Za-z0-9_-]");
      refused({ ...hello, clientId: bad }, "clientId");
    }
    expect(client({ ...hello, appId: "x".repeat(64) }).error).toBeUndefined();
    refused({ ...hello, token: 42 }, "token", "expected a string");
    refused({ ...hello, token: "" }, "token");
    refused({ ...hello, userId: { id: "u" } }, "userId");
    refused({ ...hello, extra: true }, 'unknown key "extra"');
  });

  it("refuses an unknown key however many known ones it stands beside, and names it before a field's problem", () => {
    // As many keys as a full hello: the unknown one stands where `userId` would.
    refused({ ...hello, token: "jwt", extra: "u1" }, 'unknown key "extra"');
    refused({ ...hello, extra: 1, another: 2 }, 'unknown key "extra"');
    refused({ ...hello, appId: 42, extra: 1 }, 'unknown key "extra"');
    refused({ type: "push", batchId: "b1", extra: 1 }, 'unknown key "extra"');
    refusedServer({ type: "changes", triples: [triple({ hlc: 5 })], cursor: "1", extra: 1 }, 'unknown key "extra"');
    refusedServer({ type: "changes", triples: [], cursor: "1", revoked: [{ collection: "notes", rev: 1 }] }, "rev");
  });

  it("reads a value whose keys are all known, an own key left undefined among them", () => {
    const { data, error } = parseClientValue({ ...hello, token: undefined, userId: "u1" });
    expect(error).toBeUndefined();
    expect(data).toEqual({ ...hello, userId: "u1" });
    expect(parseClientValue({ ...hello, token: undefined, extra: 1 }).error?.message).toContain('unknown key "extra"');
  });

  it("checks subscribe, unsubscribe, push and ping fields", () => {
    refused({ type: "subscribe", queryId: "q1", query: simpleQuery }, "cursor", "got undefined");
    refused({ type: "subscribe", queryId: "q1", query: simpleQuery, cursor: 5 }, "cursor", "number 5");
    refused({ type: "subscribe", queryId: "", query: simpleQuery, cursor: null }, "queryId");
    refused({ type: "subscribe", queryId: "q1", cursor: null }, "query", "expected an object, got undefined");
    refused({ type: "unsubscribe" }, "queryId");
    refused({ type: "unsubscribe", queryId: ["q1"] }, "queryId");
    refused({ type: "push", batchId: "b1", triples: {} }, "triples", "expected an array");
    refused({ type: "push", batchId: 1, triples: [] }, "batchId");
    refused({ type: "ping", payload: 1 }, 'unknown key "payload"');
    const message = refused(push([triple({}), triple({ hlc: 5 })]), '"push" client message', "triples[1].hlc");
    expect(parseClientMessage(JSON.stringify(push([triple({ hlc: 5 })]))).error?.details).toEqual({
      path: "triples[0].hlc",
    });
    expect(message).toMatch(/^Refused a "push" client message: /);
  });

  it("checks triples: HLCs, names, ids, tombstones, set elements", () => {
    for (const hlc of [
      "",
      "nope",
      "0000000000-a",
      "zzzzzzzzzzz-a",
      `${"0".repeat(11)}-bad node`,
      `${"0".repeat(11)}_a`,
      null,
      12,
    ]) {
      refused(push([triple({ hlc })]), "triples[0].hlc", "HLC");
    }
    for (const collection of ["", "1users", "users/x", "us-ers", 5])
      refused(push([triple({ collection })]), "triples[0].collection");
    for (const field of ["", "na me", "$other", "a.b", null]) refused(push([triple({ field })]), "triples[0].field");
    refused(push([triple({ id: "" })]), "triples[0].id");
    refused(push([triple({ id: 12 })]), "triples[0].id");
    refused(push([triple({ id: "x".repeat(257) })]), "triples[0].id");
    refused(push([{ collection: "users", id: "u1", field: "name", hlc: HLC }]), "triples[0].value", "missing");
    refused(push([triple({ extra: 1 })]), 'unknown key "extra"');
    refused(push(["triple"]), "triples[0]", "expected an object");
    for (const value of [false, null, 1, "true"])
      refused(push([triple({ field: DELETED_FIELD, value })]), "$deleted triple must carry true");
    refused(push([triple({ field: DELETED_FIELD, value: true, element: "x" })]), "no element");
    for (const value of [null, 1, "true", {}])
      refused(push([triple({ field: "tagIds", element: "t1", value })]), "set element triple carries true or false");
    refused(push([triple({ field: "tagIds", element: 3, value: true })]), "triples[0].element");
    refused(push([triple({ field: "tagIds", element: "", value: true })]), "triples[0].element");
    expect(client(push([triple({ field: DELETED_FIELD, value: true })])).error).toBeUndefined();
  });
});

describe("normalized query shape", () => {
  const bad = (query: unknown, ...fragments: string[]) => refused(subscribe(query), ...fragments);

  it("checks collection, select, where, orderBy and limit", () => {
    bad({ ...simpleQuery, collection: 3 }, "query.collection");
    bad({ ...simpleQuery, collection: "no such" }, "query.collection");
    bad({ ...simpleQuery, select: "name" }, "query.select", "expected an array");
    bad({ ...simpleQuery, select: [1] }, "query.select[0]");
    // A field is selected by naming it: the user-facing `fields` object, `false` or not, never crosses the wire.
    bad({ ...simpleQuery, select: [false] }, "query.select[0]");
    bad({ ...simpleQuery, fields: { name: false } }, 'unknown key "fields"', "select");
    bad({ ...simpleQuery, where: {} }, "query.where", "expected an array");
    bad(
      { ...simpleQuery, where: [{ field: "age", op: "like", operand: 1 }] },
      "query.where[0].op",
      "expected one of equals",
    );
    bad({ ...simpleQuery, where: [{ field: "age", op: "equals" }] }, "query.where[0].operand", "missing");
    bad({ ...simpleQuery, where: [{ field: 1, op: "equals", operand: 1 }] }, "query.where[0].field");
    bad(
      { ...simpleQuery, where: [{ field: "age", op: "equals", operand: 1, extra: 1 }] },
      "query.where[0]",
      "unknown key",
    );
    bad({ ...simpleQuery, orderBy: [["name"]] }, "query.orderBy[0]", "pair");
    bad({ ...simpleQuery, orderBy: [["name", "up"]] }, "query.orderBy[0][1]", "asc, desc");
    bad({ ...simpleQuery, orderBy: ["name"] }, "query.orderBy[0]", "expected an array");
    bad({ ...simpleQuery, orderBy: [[1, "asc"]] }, "query.orderBy[0][0]");
    for (const limit of [-1, 1.5, "10", null, 2 ** 60]) bad({ ...simpleQuery, limit }, "query.limit", "whole number");
    bad({ ...simpleQuery, unknown: 1 }, 'unknown key "unknown"');
  });

  it("checks operand kinds the engine relies on, and that every used field has a spec", () => {
    for (const op of ["in", "notIn"])
      bad({ ...simpleQuery, where: [{ field: "age", op, operand: 5 }] }, "query.where[0].operand", "takes a list");
    bad(
      { ...simpleQuery, where: [{ field: "age", op: "isDefined", operand: "yes" }] },
      "query.where[0].operand",
      "true or false",
    );
    bad({ ...simpleQuery, select: [...simpleQuery.select, "toString"] }, "query.specs", '"toString"');
    bad({ ...simpleQuery, where: [{ field: "constructor2", op: "equals", operand: 1 }] }, '"constructor2"');
    bad({ ...simpleQuery, orderBy: [["valueOf", "asc"]] }, '"valueOf"');
  });

  it("checks specs shape", () => {
    bad({ ...simpleQuery, specs: [] }, "query.specs", "expected an object");
    bad(
      { ...simpleQuery, specs: { name: { type: "text", optional: true } } },
      "query.specs.name.type",
      "expected one of string",
    );
    bad({ ...simpleQuery, specs: { name: { type: "string" } } }, "query.specs.name.optional", "true or false");
    bad(
      { ...simpleQuery, specs: { name: { type: "ref", optional: true, target: "bad target" } } },
      "query.specs.name.target",
    );
    bad({ ...simpleQuery, specs: { name: { type: "string", optional: true, unique: true } } }, 'unknown key "unique"');
    bad({ ...simpleQuery, specs: { "bad name": { type: "string", optional: true } } }, "query.specs key");
    bad(
      { ...simpleQuery, specs: { o: { type: "object", optional: true, fields: { x: 1 } } } },
      "query.specs.o.fields.x",
    );
    bad(
      { ...simpleQuery, specs: { a: { type: "array", optional: true, items: { type: "nope", optional: true } } } },
      "query.specs.a.items.type",
    );
    let spec: unknown = { type: "string", optional: true };
    for (let i = 0; i < 12; i++) spec = { type: "array", optional: true, items: spec };
    bad({ ...simpleQuery, specs: { deep: spec } }, "nest at most 8 deep");
    const nested = {
      type: "object",
      optional: false,
      fields: { x: { type: "array", optional: true, items: { type: "number", optional: false } } },
      fallback: {},
    };
    expect(client(subscribe({ ...simpleQuery, specs: { ...simpleQuery.specs, nested } })).error).toBeUndefined();
  });

  it("checks relations, recursively and with a depth limit", () => {
    const relation = {
      name: "authorId",
      cardinality: "one",
      direction: "forward",
      link: "authorId",
      linkSpec: { type: "ref", optional: true, target: "users" },
      query: simpleQuery,
    };
    expect(client(subscribe({ ...simpleQuery, collection: "posts", relations: [relation] })).error).toBeUndefined();
    bad({ ...simpleQuery, relations: {} }, "query.relations", "expected an array");
    bad({ ...simpleQuery, relations: [{ ...relation, cardinality: "some" }] }, "query.relations[0].cardinality");
    bad({ ...simpleQuery, relations: [{ ...relation, direction: "sideways" }] }, "query.relations[0].direction");
    bad({ ...simpleQuery, relations: [{ ...relation, link: "" }] }, "query.relations[0].link");
    bad({ ...simpleQuery, relations: [{ ...relation, linkSpec: null }] }, "query.relations[0].linkSpec");
    bad(
      { ...simpleQuery, relations: [{ ...relation, query: { ...simpleQuery, limit: -2 } }] },
      "query.relations[0].query.limit",
    );
    let query: unknown = simpleQuery;
    for (let i = 0; i < 8; i++) query = { ...simpleQuery, relations: [{ ...relation, query }] };
    expect(client(subscribe(query)).error).toBeUndefined();
    query = { ...simpleQuery, relations: [{ ...relation, query }] };
    bad(query, "relations nest at most 8 deep");
  });

  it("checks after / before cursors", () => {
    expect(client(subscribe({ ...simpleQuery, before: { keys: [], id: "u9" } })).error).toBeUndefined();
    bad({ ...simpleQuery, after: { keys: "Ada", id: "u1" } }, "query.after.keys");
    bad({ ...simpleQuery, after: { keys: [], id: 1 } }, "query.after.id");
    bad({ ...simpleQuery, before: ["Ada", "u1"] }, "query.before", "expected an object");
    bad({ ...simpleQuery, before: { keys: [], id: "u", page: 2 } }, 'unknown key "page"');
  });
});

describe("server message rejections", () => {
  it("checks every server message's fields", () => {
    refusedServer({ type: "welcome", serverHlc: "later", userId: null }, "serverHlc", "HLC");
    refusedServer({ type: "welcome", serverHlc: HLC }, "userId");
    refusedServer({ type: "snapshot", queryId: "q1", triples: [triple({ hlc: "x" })], cursor: "1" }, "triples[0].hlc");
    refusedServer({ type: "snapshot", queryId: "q1", triples: [], cursor: null }, "cursor");
    refusedServer({ type: "snapshotPart", queryId: "q1", triples: [], documents: -1, total: 10 }, "documents");
    refusedServer({ type: "snapshotPart", queryId: "q1", triples: [], documents: 1, total: 1.5 }, "total");
    refusedServer({ type: "snapshotPart", queryId: "q1", triples: [], documents: 1, total: 2, cursor: "1" }, "cursor");
    refusedServer(
      { type: "changes", triples: [triple({ field: DELETED_FIELD, value: false })], cursor: "1" },
      "$deleted",
    );
    refusedServer({ type: "changes", triples: [], cursor: "" }, "cursor");
    refusedServer({ type: "changes", triples: [], cursor: "1", revoked: [{ collection: "notes" }] }, "revoked[0].id");
    refusedServer({ type: "snapshot", queryId: "q1", triples: [], cursor: "1", revoked: {} }, "revoked");
    refusedServer({ type: "ack", batchId: "b 1", cursor: "1" }, "batchId");
    refusedServer({ type: "error", code: "OOPS", message: "m" }, "code", "VALIDATION");
    refusedServer({ type: "error", code: "PROTOCOL", message: 5 }, "message");
    refusedServer({ type: "error", code: "PROTOCOL", message: "m", details: [] }, "details", "expected an object");
    refusedServer({ type: "pong", at: 1 }, "unknown key");
    const maxed = parseServerMessage(JSON.stringify({ type: "pong" }), { maxBytes: 5 });
    expect(maxed.error?.message).toContain("larger than the limit of 5 bytes");
  });
});

describe("room messages", () => {
  const room = { roomType: "documentEditor", roomId: "doc-123" };
  const appWide = { roomType: "lobby", roomId: "" };

  it("round-trips every room client message", () => {
    const messages: ClientMessage[] = [
      { type: "join", ...room, userStatus: { cursor: { x: 1, y: 2 }, name: "Ada" } },
      { type: "join", ...appWide, userStatus: {} },
      { type: "leave", ...room },
      { type: "emit", ...room, event: "like", data: { targetId: "p1", n: [1, null, "x"] } },
      { type: "emit", ...appWide, event: "ping_1", data: null },
      { type: "setUserStatus", ...room, status: { cursor: null, typing: true } },
      { type: "setRoomStatus", ...room, status: { documentTitle: "Draft" } },
      { type: "join", roomType: "r", roomId: "x".repeat(256), userStatus: {} },
    ];
    for (const message of messages) {
      const { data, error } = client(message);
      expect(error).toBeUndefined();
      expect(data).toEqual(message);
    }
  });

  it("round-trips every room server message", () => {
    const messages: ServerMessage[] = [
      {
        type: "roomState",
        ...room,
        roomStatus: { documentTitle: "Draft" },
        users: { "user@example.com": { cursor: { x: 1 } }, "anon:c-1": {} },
      },
      { type: "roomState", ...appWide, roomStatus: {}, users: {} },
      { type: "roomEvent", ...room, event: "like", data: { targetId: "p1" }, userId: "u1", hlc: HLC },
      { type: "roomEvent", ...appWide, event: "like", data: 3, userId: null, hlc: HLC },
      { type: "userStatus", ...room, userId: "u1", status: { cursor: { x: 2 } } },
      { type: "userStatus", ...room, userId: "u1", status: null },
      { type: "roomStatus", ...room, status: { documentTitle: null } },
    ];
    for (const message of messages) {
      const { data, error } = parseServerMessage(JSON.stringify(message));
      expect(error).toBeUndefined();
      expect(data).toEqual(message);
    }
  });

  it("checks room addresses", () => {
    refused({ type: "leave", roomType: "9rooms", roomId: "" }, "roomType");
    refused({ type: "leave", roomType: "a-b", roomId: "" }, "roomType");
    refused({ type: "leave", roomId: "" }, "roomType");
    refused({ type: "leave", roomType: "r" }, "roomId", "app-wide");
    refused({ type: "leave", roomType: "r", roomId: 5 }, "roomId");
    refused({ type: "leave", roomType: "r", roomId: "x".repeat(257) }, "roomId", "1-256");
    refused({ type: "leave", roomType: "r", roomId: "", extra: 1 }, 'unknown key "extra"');
    refusedServer({ type: "roomStatus", roomType: "constructor", roomId: "", status: {} }, "roomType");
  });

  it("checks join, emit and status payloads", () => {
    refused({ type: "join", ...room }, "userStatus", "expected an object");
    refused({ type: "join", ...room, userStatus: [] }, "userStatus", "expected an object");
    refused({ type: "join", ...room, userStatus: { "bad key": 1 } }, "userStatus key");
    refused({ type: "emit", ...room, event: "like" }, "data", "missing");
    refused({ type: "emit", ...room, event: "2like", data: 1 }, "event");
    refused({ type: "emit", ...room, data: 1 }, "event");
    refused(
      { type: "emit", ...room, event: "like", data: { nested: { __proto__x: 1, constructor: 2 } } },
      "constructor",
    );
    refused({ type: "setUserStatus", ...room, status: null }, "status", "expected an object");
    refused({ type: "setRoomStatus", ...room, status: { "": 1 } }, "status key");
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]));
    refused({ type: "setRoomStatus", ...room, status: many }, "at most 64 keys");
    const sixtyFour = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, i]));
    expect(client({ type: "setRoomStatus", ...room, status: sixtyFour }).error).toBeUndefined();
  });

  it("checks room server messages", () => {
    refusedServer({ type: "roomEvent", ...room, event: "like", data: 1, userId: "u1", hlc: "later" }, "hlc");
    refusedServer({ type: "roomEvent", ...room, event: "like", data: 1, hlc: HLC }, "userId");
    refusedServer({ type: "roomEvent", ...room, event: "like", userId: null, hlc: HLC }, "data", "missing");
    refusedServer({ type: "userStatus", ...room, userId: null, status: null }, "userId");
    refusedServer({ type: "userStatus", ...room, userId: "u1" }, "status");
    refusedServer({ type: "roomState", ...room, roomStatus: {}, users: { u1: 5 } }, "users.u1");
    refusedServer({ type: "roomState", ...room, roomStatus: {}, users: { "": {} } }, "users key");
    refusedServer({ type: "roomState", ...room, users: {} }, "roomStatus");
    refusedServer({ type: "roomStatus", ...room, status: [] }, "status");
  });

  it("lists the room types among the expected message types", () => {
    refused({ type: "shout" }, "join, leave, emit, setUserStatus, setRoomStatus");
    refusedServer({ type: "shout" }, "roomState, roomEvent, userStatus, roomStatus");
  });
});
