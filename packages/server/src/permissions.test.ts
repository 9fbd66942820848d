import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createSchema, DELETED_FIELD, normalizeQuery, t, type Triple } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess, tempDataDir } from "@trellis/server/testing";
import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseRules, RulesError } from "./permissions/rules.js";
import {
  closeAllSockets,
  connect,
  documentTriples,
  nextId,
  post,
  postLines,
  query,
  type RawSocket,
  storedTriples,
  writer,
} from "./testing/raw-socket.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const SECRET = "a-secret-for-permission-tests";
const hlc = writer("permissions");

const RULES = {
  // Only the author of a todo may write it (createdBy is stamped by the client and checked).
  todos: {
    read: true,
    create: { createdBy: "$user.id" },
    update: { createdBy: "$user.id" },
    delete: { createdBy: "$user.id" },
  },
  // Anyone may add a tag; tags cannot change; only admins may remove or see them.
  tags: { read: { "$user.role": "admin" }, create: true, update: false, delete: { "$user.role": "admin" } },
  // Drafts may be edited only while they stay drafts.
  drafts: { read: true, create: true, update: { status: "draft" } },
  // A drop box: anyone may leave a note, nobody reads them back (but admins).
  notes: { read: { "$user.role": "admin" }, create: true },
  $rooms: { lobby: { join: true }, todo: { join: { readable: "todos" } }, closed: { join: false } },
};

afterEach(() => closeAllSockets());

function token(sub: string, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setExpirationTime("10m")
    .sign(new TextEncoder().encode(SECRET));
}

/** Starts a server with these rules before the tests of the enclosing block and stops it after. */
function useRulesServer(rules: unknown, args: readonly string[] = []): { readonly server: ServerProcess } {
  const holder = {} as { server: ServerProcess };
  beforeAll(async () => {
    const dataDir = tempDataDir();
    const file = join(dataDir, "rules.json");
    writeFileSync(file, JSON.stringify(rules));
    holder.server = await startServerProcess({ dataDir, args: [...args, "--permissions", file] });
  });
  afterAll(async () => {
    await holder.server.stop();
    removeDataDir(holder.server.dataDir);
  });
  return holder;
}

/** Pushes and answers the ack or the error. */
async function push(socket: RawSocket, triples: readonly Triple[]) {
  const batchId = nextId("b");
  socket.send({ type: "push", batchId, triples });
  return socket.next(["ack", "error"], (message) =>
    message.type === "ack" ? message.batchId === batchId : message.details?.batchId === batchId,
  );
}

/** Joins a room; answers its state, or the error that refused the join. */
async function joinRoom(socket: RawSocket, roomType: string, roomId: string) {
  socket.send({ type: "join", roomType, roomId, userStatus: {} });
  return socket.next(["roomState", "error"], (message) =>
    message.type === "roomState"
      ? message.roomType === roomType && message.roomId === roomId
      : message.details?.roomType === roomType && message.details?.roomId === roomId,
  );
}

const author = (id: string, user: string): Triple => ({
  collection: "todos",
  id,
  field: "createdBy",
  value: user,
  hlc: hlc(),
});
const todo = (id: string, user: string, fields: Record<string, unknown> = { title: id }) => [
  ...documentTriples("todos", id, fields, hlc),
  author(id, user),
];

describe("rules files", () => {
  it("are refused at load with the JSON path of the mistake, by createServer and by the CLI (exit 1)", () => {
    const mistakes: Array<[unknown, string]> = [
      [{ todos: { write: true } }, "todos.write: unknown operation"],
      [{ todos: { update: { title: { like: "x" } } } }, "todos.update.title.like: unknown operator"],
      [
        { todos: { update: { ownerId: "$usr.id" } } },
        `todos.update.ownerId.equals: "$usr.id" is not $user.id or $user.<claim>`,
      ],
      [
        { todos: { update: { "$user.a.b": 1 } } },
        "todos.update.$user.a.b: expected $user.id or $user.<claim> as a key",
      ],
      [{ todos: { update: { or: [] } } }, "todos.update.or: expected a non-empty list"],
      [{ staff: { read: { grants: { where: {} } } } }, "staff.read.grants.via: missing"],
      [
        { todos: { read: { projectId: { collection: "projects", where: { memberIds: { has: 1 } } } } } },
        "todos.read.projectId.where.memberIds.has: unknown operator",
      ],
      [
        { todos: { read: { members: { via: "todoId", limit: 1, where: {} } } } },
        "todos.read.members.limit: unknown key",
      ],
      [{ todos: { read: { members: { via: 5, where: {} } } } }, "todos.read.members.via: expected a field name"],
      [{ $rooms: { doc: {} } }, "$rooms.doc.join: missing"],
      [{ $rooms: { doc: { join: { readable: 5 } } } }, "$rooms.doc.join.readable: expected a collection name"],
      [[], "(rules): expected an object"],
      [{ "bad name": {} }, "bad name: expected a collection name"],
    ];
    for (const [rules, message] of mistakes) expect(() => parseRules(rules), JSON.stringify(rules)).toThrow(message);
    expect(() => parseRules({ todos: { update: { title: { like: "x" } } } })).toThrow(RulesError);
    // Filters through relations name their collection and link by convention, as in SPEC's example.
    const related = (rules: unknown, collection: string) =>
      (parseRules(rules).collections.get(collection)!.read as ReadonlyArray<unknown>)[0];
    expect(related({ tasks: { read: { projectId: { where: {} } } } }, "tasks")).toMatchObject({
      direction: "forward",
      link: "projectId",
      collection: "projects",
    });
    expect(related({ posts: { read: { categoryIds: { where: {} } } } }, "posts")).toMatchObject({
      direction: "forward",
      link: "categoryIds",
      collection: "categories",
    });
    expect(related({ projects: { read: { members: { where: { userId: "$user.id" } } } } }, "projects")).toMatchObject({
      direction: "reverse",
      link: "projectId",
      collection: "members",
    });
    expect(related({ boxes: { read: { grants: { where: {} } } } }, "boxes")).toMatchObject({
      direction: "reverse",
      link: "boxId",
    });
    expect(related({ tasks: { read: { owner: { collection: "people", where: {} } } } }, "tasks")).toMatchObject({
      direction: "forward",
      link: "owner",
      collection: "people",
    });
    expect(related({ projects: { read: { members: { via: "teamId", where: {} } } } }, "projects")).toMatchObject({
      direction: "reverse",
      link: "teamId",
    });
    // Every pattern docs/permissions.md suggests is a valid rule.
    const docs = readFileSync(fileURLToPath(new URL("../../../docs/permissions.md", import.meta.url)), "utf8");
    const patterns = [...docs.matchAll(/^\| [^|]+ \| `(\{.*\})` \|$/gm)].map(
      (match) => JSON.parse(match[1]!) as Record<string, unknown>,
    );
    expect(patterns.length).toBeGreaterThan(6);
    for (const pattern of patterns)
      expect(
        () => parseRules(Object.hasOwn(pattern, "$rooms") ? pattern : { docs: pattern }),
        JSON.stringify(pattern),
      ).not.toThrow();

    const dataDir = tempDataDir();
    try {
      const file = join(dataDir, "rules.json");
      writeFileSync(file, JSON.stringify({ todos: { create: { title: { like: 1 } } } }));
      const run = spawnSync(process.execPath, [CLI, "--port", "0", "--data", dataDir, "--permissions", file], {
        encoding: "utf8",
        timeout: 15_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("Invalid permissions at todos.create.title.like: unknown operator");
      writeFileSync(file, "{ not json");
      const malformed = spawnSync(process.execPath, [CLI, "--port", "0", "--data", dataDir, "--permissions", file], {
        encoding: "utf8",
        timeout: 15_000,
      });
      expect(malformed.status).toBe(1);
      expect(malformed.stderr).toMatch(/--permissions .*rules\.json: .*JSON/);
    } finally {
      removeDataDir(dataDir);
    }
  });
});

describe("with rules", () => {
  const started = useRulesServer(RULES, ["--jwt-secret", SECRET]);
  const as = async (user: string, claims: Record<string, unknown> = {}, appId = "perm") =>
    connect(started.server.url, appId, { token: await token(user, claims) });

  it("starts without the warning that everyone may do everything (auth.test.ts checks it without rules)", () => {
    expect(started.server.output()).not.toContain("NO PERMISSIONS");
  });
  const storedIds = async (
    collection: "todos" | "tags" | "notes",
    user = "admin",
    claims: Record<string, unknown> = { role: "admin" },
  ) =>
    new Set(
      (
        await storedTriples(started.server.url, "perm", collection, {
          authorization: `Bearer ${await token(user, claims)}`,
        })
      ).map((triple) => triple.id),
    );

  it("checks create on the document as written, update before and after, delete before; refused whole with UNAUTHORIZED", async () => {
    const alice = await as("alice");
    const bob = await as("bob");
    expect(await push(alice, todo("a1", "alice"))).toMatchObject({ type: "ack" });
    // A todo that is not bob's (its createdBy is alice's); authorship itself stops him naming her.
    expect(await push(bob, documentTriples("todos", "b-unowned", { title: "x" }, hlc))).toMatchObject({
      type: "error",
      code: "UNAUTHORIZED",
      details: { collection: "todos", id: "b-unowned", operation: "create" },
    });
    // bob may not update or delete alice's todo.
    expect(
      await push(bob, [{ collection: "todos", id: "a1", field: "title", value: "bob's now", hlc: hlc() }]),
    ).toMatchObject({ code: "UNAUTHORIZED", details: { operation: "update" } });
    expect(
      await push(bob, [{ collection: "todos", id: "a1", field: "$deleted", value: true, hlc: hlc() }]),
    ).toMatchObject({ code: "UNAUTHORIZED", details: { operation: "delete" } });
    // Taking it over, by naming himself its author, is an update the rule checks before the change.
    expect(await push(bob, [author("a1", "bob")])).toMatchObject({
      code: "UNAUTHORIZED",
      details: { id: "a1", operation: "update" },
    });
    // An update must leave the document allowed too: a draft may not be published.
    expect(await push(bob, documentTriples("drafts", "d1", { status: "draft" }, hlc))).toMatchObject({ type: "ack" });
    expect(
      await push(bob, [{ collection: "drafts", id: "d1", field: "text", value: "edited", hlc: hlc() }]),
    ).toMatchObject({ type: "ack" });
    expect(
      await push(bob, [{ collection: "drafts", id: "d1", field: "status", value: "published", hlc: hlc() }]),
    ).toMatchObject({ code: "UNAUTHORIZED", details: { operation: "update" } });
    // A batch with one refused change stores nothing: bob's own todo goes down with it.
    expect(
      await push(bob, [
        ...todo("b1", "bob"),
        { collection: "todos", id: "a1", field: "done", value: true, hlc: hlc() },
      ]),
    ).toMatchObject({ code: "UNAUTHORIZED", details: { id: "a1" } });
    expect(await storedIds("todos")).toEqual(new Set(["a1"]));
    // alice may update and delete her own.
    expect(
      await push(alice, [{ collection: "todos", id: "a1", field: "title", value: "mine", hlc: hlc() }]),
    ).toMatchObject({ type: "ack" });
    expect(
      await push(alice, [{ collection: "todos", id: "a1", field: "$deleted", value: true, hlc: hlc() }]),
    ).toMatchObject({ type: "ack" });
    expect(await storedIds("todos")).toEqual(new Set());
  });

  it("decides claims rules from the token: only an admin may delete a tag; nobody may change one", async () => {
    const bob = await as("bob");
    const admin = await as("root", { role: "admin" });
    expect(await push(bob, documentTriples("tags", "t1", { label: "x" }, hlc))).toMatchObject({ type: "ack" });
    expect(await push(bob, [{ collection: "tags", id: "t1", field: "label", value: "y", hlc: hlc() }])).toMatchObject({
      code: "UNAUTHORIZED",
      details: { operation: "update" },
    });
    expect(await push(admin, [{ collection: "tags", id: "t1", field: "label", value: "y", hlc: hlc() }])).toMatchObject(
      { code: "UNAUTHORIZED" },
    );
    expect(
      await push(bob, [{ collection: "tags", id: "t1", field: "$deleted", value: true, hlc: hlc() }]),
    ).toMatchObject({ code: "UNAUTHORIZED", details: { operation: "delete" } });
    expect(
      await push(admin, [{ collection: "tags", id: "t1", field: "$deleted", value: true, hlc: hlc() }]),
    ).toMatchObject({ type: "ack" });
  });

  it("denies whatever no rule allows: collections without rules, for reads and writes", async () => {
    const bob = await as("bob");
    expect(await push(bob, documentTriples("secrets", "s1", { x: 1 }, hlc))).toMatchObject({
      code: "UNAUTHORIZED",
      details: { collection: "secrets", operation: "create" },
    });
    bob.send({ type: "subscribe", queryId: "secrets", query: query("notes"), cursor: null });
    expect((await bob.next("snapshot")).triples).toEqual([]);
  });

  it("reads a collection only with its read rule: others get an empty result, and the same from relations", async () => {
    const bob = await as("bob");
    const admin = await as("root", { role: "admin" });
    expect(await push(bob, documentTriples("notes", "n1", { text: "for admins" }, hlc))).toMatchObject({ type: "ack" });
    bob.send({ type: "subscribe", queryId: "notes", query: query("notes"), cursor: null });
    expect((await bob.next("snapshot")).triples).toEqual([]);
    admin.send({ type: "subscribe", queryId: "notes", query: query("notes"), cursor: null });
    expect(new Set((await admin.next("snapshot")).triples.map((triple) => triple.id))).toEqual(new Set(["n1"]));
    // A later note reaches the admin, not bob.
    expect(await push(bob, documentTriples("notes", "n2", { text: "again" }, hlc))).toMatchObject({ type: "ack" });
    expect((await admin.next("changes")).triples.some((triple) => triple.id === "n2")).toBe(true);
    await bob.sync();
    // Bob is told to drop what he wrote but may not read, and gets nothing of it.
    const toBob = bob.pending().flatMap((message) => (message.type === "changes" ? [message] : []));
    expect(toBob.flatMap((message) => message.triples)).toEqual([]);
    expect(toBob.flatMap((message) => message.revoked ?? [])).toEqual([
      { collection: "notes", id: "n1" },
      { collection: "notes", id: "n2" },
    ]);
    // Related documents of a collection the user may not read read as missing.
    const alice = await as("alice");
    expect(
      await push(alice, [
        ...documentTriples("tags", "t9", { label: "hidden" }, hlc),
        ...todo("tagged", "alice"),
        { collection: "todos", id: "tagged", field: "tags", element: "t9", value: true, hlc: hlc() },
      ]),
    ).toMatchObject({ type: "ack" });
    const withTags = query("todos", { fields: { title: true, tags: { fields: { label: true } } } });
    for (const [socket, shows] of [
      [bob, false],
      [admin, true],
    ] as const) {
      socket.send({ type: "subscribe", queryId: "tagged", query: withTags, cursor: null });
      const ids = new Set(
        (await socket.next("snapshot", (message) => message.queryId === "tagged")).triples.map((triple) => triple.id),
      );
      expect(ids.has("tagged")).toBe(true);
      expect(ids.has("t9")).toBe(shows);
    }
    // Over HTTP too, for queries and pushes (403 for a refused write).
    expect(await storedIds("notes", "bob", {})).toEqual(new Set());
    expect(await storedIds("notes")).toEqual(new Set(["n1", "n2"]));
    const refused = await postLines(
      started.server.url,
      { appId: "perm", clientId: "c", batchId: "http" },
      documentTriples("secrets", "s2", { x: 1 }, hlc),
      {
        authorization: `Bearer ${await token("bob")}`,
      },
    );
    expect(refused).toMatchObject({
      status: 403,
      body: { error: { code: "UNAUTHORIZED", details: { operation: "create" } } },
    });
  });

  it("lets users join only the rooms their rules allow", async () => {
    const alice = await as("alice");
    expect(await push(alice, todo("room-todo", "alice"))).toMatchObject({ type: "ack" });
    expect(await joinRoom(alice, "lobby", "")).toMatchObject({ type: "roomState" });
    expect(await joinRoom(alice, "todo", "room-todo")).toMatchObject({ type: "roomState" });
    expect(await joinRoom(alice, "todo", "no-such-todo")).toMatchObject({ type: "error", code: "UNAUTHORIZED" });
    expect(await joinRoom(alice, "unlisted", "")).toMatchObject({ type: "error", code: "UNAUTHORIZED" });
    expect(await joinRoom(alice, "closed", "")).toMatchObject({ type: "error", code: "UNAUTHORIZED" });
  });

  it("applies to the user a development server trusts, too", async () => {
    const dataDir = tempDataDir();
    const file = join(dataDir, "rules.json");
    writeFileSync(file, JSON.stringify(RULES));
    const dev = await startServerProcess({ dataDir, args: ["--permissions", file] });
    try {
      const mallory = await connect(dev.url, "perm", { userId: "mallory" });
      const alice = await connect(dev.url, "perm", { userId: "alice" });
      alice.send({ type: "push", batchId: "a", triples: todo("a1", "alice") });
      await alice.next("ack");
      mallory.send({
        type: "push",
        batchId: "m",
        triples: [{ collection: "todos", id: "a1", field: "title", value: "x", hlc: hlc() }],
      });
      expect(await mallory.next("error")).toMatchObject({ code: "UNAUTHORIZED", details: { operation: "update" } });
      const anonymous = await connect(dev.url, "perm");
      anonymous.send({ type: "push", batchId: "anon", triples: documentTriples("todos", "x1", { title: "x" }, hlc) });
      expect(await anonymous.next("error")).toMatchObject({ code: "UNAUTHORIZED", details: { operation: "create" } });
      expect(
        (
          await post(dev.url, "/v1/push", {
            appId: "perm",
            clientId: "c",
            batchId: "h",
            triples: documentTriples("secrets", "s", { x: 1 }, hlc),
          })
        ).status,
      ).toBe(403);
    } finally {
      await dev.stop();
      removeDataDir(dataDir);
    }
  });
});

describe("read rules per document", () => {
  const rules = {
    notes: {
      read: { or: [{ owner: "$user.id" }, { sharedWith: "$user.id" }] },
      create: { owner: "$user.id" },
      update: { owner: "$user.id" },
    },
    inbox: { read: { owner: "$user.id" }, create: true },
    folders: { read: true, create: true },
    $rooms: { note: { join: { readable: "notes" } } },
  };
  const note = (id: string, owner: string, text: string) => [
    ...documentTriples("notes", id, { text }, hlc),
    { collection: "notes", id, field: "owner", value: owner, hlc: hlc() },
  ];
  const share = (id: string, user: string, isShared: boolean): Triple => ({
    collection: "notes",
    id,
    field: "sharedWith",
    element: user,
    value: isShared,
    hlc: hlc(),
  });
  const edit = (id: string, text: string): Triple => ({
    collection: "notes",
    id,
    field: "text",
    value: text,
    hlc: hlc(),
  });

  const started = useRulesServer(rules);

  const ack = async (socket: RawSocket, triples: readonly Triple[]) => {
    expect(await push(socket, triples)).toMatchObject({ type: "ack" });
  };
  const httpIds = async (user: string) =>
    new Set(
      (await storedTriples(started.server.url, "shared", "notes", { "x-trellis-user": user })).map(
        (triple) => triple.id,
      ),
    );

  it("sends each user only what it may read, follows sharing both ways, and sends nothing more once access is gone", async () => {
    const alice = await connect(started.server.url, "shared", { userId: "alice" });
    const bob = await connect(started.server.url, "shared", { userId: "bob" });
    await ack(alice, note("private", "alice", "alice only"));
    await ack(alice, note("shared", "alice", "for bob soon"));
    // Written from another of bob's devices: a connection is never sent back what it wrote.
    await ack(await connect(started.server.url, "shared", { userId: "bob" }), note("bobs", "bob", "bob's own"));

    bob.send({ type: "subscribe", queryId: "notes", query: query("notes"), cursor: null });
    const snapshot = await bob.next("snapshot");
    expect(new Set(snapshot.triples.map((triple) => triple.id))).toEqual(new Set(["bobs"]));
    expect(await httpIds("bob")).toEqual(new Set(["bobs"]));

    // Shared with bob: the note enters his query, and its later edits follow it.
    await ack(alice, [share("shared", "bob", true)]);
    const entered = await bob.next("changes");
    expect(entered.triples.some((triple) => triple.id === "shared" && triple.field === "text")).toBe(true);
    await ack(alice, [edit("shared", "edited while shared")]);
    expect((await bob.next("changes")).triples).toEqual([
      expect.objectContaining({ id: "shared", value: "edited while shared" }),
    ]);

    // Unshared: bob is told to drop it, and nothing of it reaches him any more, over the socket or HTTP.
    await ack(alice, [share("shared", "bob", false)]);
    const revoked = await bob.next("changes");
    expect(revoked.revoked).toEqual([{ collection: "notes", id: "shared" }]);
    expect(revoked.triples).toEqual([]);
    await ack(alice, [edit("shared", "after bob lost it"), edit("private", "still private")]);
    await bob.sync();
    const leaked = bob
      .pending()
      .flatMap((message) => (message.type === "changes" ? message.triples : []))
      .filter((triple) => triple.id !== "bobs");
    expect(leaked.filter((triple) => triple.field === "text")).toEqual([]);
    expect(await httpIds("bob")).toEqual(new Set(["bobs"]));
    expect(await httpIds("alice")).toEqual(new Set(["private", "shared"]));
  });

  it("leaves out of a resumed subscription what changed in documents the user may no longer read", async () => {
    const alice = await connect(started.server.url, "shared", { userId: "alice" });
    await ack(alice, note("resume", "alice", "v1"));
    await ack(alice, [share("resume", "carol", true)]);
    const carol = await connect(started.server.url, "shared", { userId: "carol" });
    carol.send({ type: "subscribe", queryId: "notes", query: query("notes"), cursor: null });
    const first = await carol.next("snapshot");
    expect(first.triples.some((triple) => triple.id === "resume")).toBe(true);
    await carol.close();
    // While carol is away, the note is unshared and edited.
    await ack(alice, [share("resume", "carol", false)]);
    await ack(alice, [edit("resume", "v2, not for carol")]);
    const back = await connect(started.server.url, "shared", { userId: "carol" });
    back.send({ type: "subscribe", queryId: "notes", query: query("notes"), cursor: first.cursor });
    const resumed = await back.next("snapshot");
    expect(resumed.triples.filter((triple) => triple.id === "resume")).toEqual([]);
    expect(resumed.revoked).toEqual([{ collection: "notes", id: "resume" }]);
    // Over HTTP too: a resumed query names what to drop.
    const answer = await post(
      started.server.url,
      "/v1/query",
      { appId: "shared", query: query("notes"), cursor: first.cursor },
      { "x-trellis-user": "carol" },
    );
    expect(answer.body).toMatchObject({ triples: [], revoked: [{ collection: "notes", id: "resume" }] });
    // An old cursor tells nobody the ids of documents they never could read.
    const snoop = await connect(started.server.url, "shared", { userId: "snoop" });
    snoop.send({ type: "subscribe", queryId: "notes", query: query("notes"), cursor: "1" });
    const snooped = await snoop.next("snapshot");
    expect(snooped.triples).toEqual([]);
    expect(snooped.revoked).toBeUndefined();
  });

  it("tells a writer to drop what it wrote but may not read (a drop box)", async () => {
    const erin = await connect(started.server.url, "shared", { userId: "erin" });
    erin.send({
      type: "push",
      batchId: "drop",
      triples: documentTriples("inbox", "for-frank", { owner: "frank", text: "hi" }, hlc),
    });
    const changes = await erin.next("changes");
    expect(changes.revoked).toEqual([{ collection: "inbox", id: "for-frank" }]);
    expect(await erin.next("ack")).toMatchObject({ batchId: "drop" });
  });

  it("lets a user join a document's room only while it may read that document", async () => {
    const alice = await connect(started.server.url, "shared", { userId: "alice" });
    const dave = await connect(started.server.url, "shared", { userId: "dave" });
    await ack(alice, note("room-note", "alice", "room"));
    expect(await joinRoom(dave, "note", "room-note")).toMatchObject({ type: "error", code: "UNAUTHORIZED" });
    expect(await joinRoom(alice, "note", "room-note")).toMatchObject({ type: "roomState" });
    await ack(alice, [share("room-note", "dave", true)]);
    expect(await joinRoom(dave, "note", "room-note")).toMatchObject({ type: "roomState" });
    expect(await alice.next("userStatus")).toMatchObject({ userId: "dave", status: {} });

    // Unshared: dave leaves the room (alice sees him go) and is told why; his events stop.
    await ack(alice, [share("room-note", "dave", false)]);
    expect(await dave.next("error")).toMatchObject({
      code: "UNAUTHORIZED",
      details: { roomType: "note", roomId: "room-note" },
    });
    expect(await alice.next("userStatus")).toMatchObject({ userId: "dave", status: null });
    dave.send({ type: "emit", roomType: "note", roomId: "room-note", event: "poke", data: 1 });
    expect(await dave.next("error")).toMatchObject({ details: { roomType: "note", roomId: "room-note" } });
    await alice.sync();
    expect(alice.pending().filter((message) => message.type === "roomEvent")).toEqual([]);
  });

  describe("hostile input", () => {
    // Folders hold notes; a client asks through relations, fields, cursors and forged conditions.
    const folderSchema = createSchema({
      entities: {
        folders: { name: t.string({ fallback: "" }) },
        notes: { text: t.string({ fallback: "" }), folderId: t.ref("folders") },
      },
    });
    const notesOf = (input: unknown) =>
      normalizeQuery(folderSchema.collections.notes!, input, folderSchema.collections).data!;
    const foldersOf = (input: unknown) =>
      normalizeQuery(folderSchema.collections.folders!, input, folderSchema.collections).data!;
    const answer = async (user: string, body: unknown) =>
      post(started.server.url, "/v1/query", body, { "x-trellis-user": user });
    const idsIn = (triples: readonly Triple[]) => new Set(triples.map((triple) => triple.id));

    it("cannot send a condition that reads fields the server's way, nor read around a rule through relations, fields or cursors", async () => {
      const alice = await connect(started.server.url, "hostile", { userId: "alice" });
      const mallory = await connect(started.server.url, "hostile", { userId: "mallory" });
      const inFolder = (id: string, owner: string, text: string) => [
        ...documentTriples("notes", id, { text, folderId: "f1" }, hlc),
        { collection: "notes", id, field: "owner", value: owner, hlc: hlc() },
      ];
      await ack(alice, [...inFolder("a1", "alice", "alice 1"), ...inFolder("a2", "alice", "alice 2")]);
      await ack(mallory, inFolder("m1", "mallory", "mallory's"));

      // A forged condition carrying its own field spec (how rules read fields) is refused.
      const forged = {
        ...query("notes"),
        where: [{ field: "owner", op: "equals", operand: "alice", spec: { type: "any", optional: true } }],
      };
      mallory.send({ type: "subscribe", queryId: "forged", query: forged as never, cursor: null });
      expect(await mallory.next("error")).toMatchObject({ code: "PROTOCOL" });
      expect((await answer("mallory", { appId: "hostile", query: forged, cursor: null })).status).toBe(400);

      // Relations: a folder (not under rules) lists only the notes mallory may read.
      const byFolder = foldersOf({ fields: { id: true, notes: { fields: { text: true } } } });
      await ack(alice, documentTriples("folders", "f1", { name: "shared folder" }, hlc));
      const related = await answer("mallory", { appId: "hostile", query: byFolder, cursor: null });
      expect(related.status).toBe(200);
      expect([...idsIn(related.body.triples)].sort()).toEqual(["f1", "m1"]);
      expect(
        [...idsIn((await answer("alice", { appId: "hostile", query: byFolder, cursor: null })).body.triples)].sort(),
      ).toEqual(["a1", "a2", "f1"]);
      // Fields: asking for fewer fields, or where on a field the rule reads, changes nothing.
      for (const input of [
        { fields: { text: true } },
        { where: { text: { startsWith: "alice" } } },
        { orderBy: ["text", "asc"], limit: 1 },
      ]) {
        const read = await answer("mallory", { appId: "hostile", query: notesOf(input), cursor: null });
        expect([...idsIn(read.body.triples)].filter((id) => id !== "m1")).toEqual([]);
      }
      // A pagination cursor pointing into alice's notes pages on over mallory's only.
      const paged = await answer("mallory", {
        appId: "hostile",
        query: { ...notesOf({ orderBy: ["text", "asc"], limit: 5 }), after: { keys: ["alice 1"], id: "a1" } },
        cursor: null,
      });
      expect([...idsIn(paged.body.triples)]).toEqual(["m1"]);
    });
  });
});

describe("rules through relations", () => {
  const member = { memberIds: "$user.id" };
  // The form SPEC shows: the collection follows from the field's name.
  const inMyProject = { projectId: { where: member } };
  const rules = {
    projects: { read: member, create: member, update: member },
    tasks: { read: inMyProject, create: inMyProject, update: inMyProject },
    // A board is readable through a grant pointing at it (documents pointing back).
    boards: { read: { grants: { via: "boardId", where: { userId: "$user.id" } } }, create: true },
    grants: { read: true, create: true, delete: true },
    $rooms: { task: { join: { readable: "tasks" } } },
  };
  const schema = createSchema({
    entities: {
      projects: { name: t.string({ fallback: "" }), memberIds: t.refMany("users") },
      tasks: { title: t.string({ fallback: "" }), projectId: t.ref("projects") },
      boards: { name: t.string({ fallback: "" }) },
      grants: { boardId: t.ref("boards"), userId: t.string({ fallback: "" }) },
      users: {},
    },
  });
  const q = (collection: string, input: unknown = {}) =>
    normalizeQuery(schema.collections[collection]!, input, schema.collections).data!;
  const membership = (project: string, user: string, present: boolean): Triple => ({
    collection: "projects",
    id: project,
    field: "memberIds",
    element: user,
    value: present,
    hlc: hlc(),
  });
  const project = (id: string, members: readonly string[]) => [
    ...documentTriples("projects", id, { name: id }, hlc),
    ...members.map((user) => membership(id, user, true)),
  ];

  const started = useRulesServer(rules);
  const httpIds = async (user: string, collection: string, input: unknown = {}) =>
    new Set(
      (
        (
          await post(
            started.server.url,
            "/v1/query",
            { appId: "rel", query: q(collection, input), cursor: null },
            { "x-trellis-user": user },
          )
        ).body.triples as Triple[]
      ).map((triple) => triple.id),
    );

  it("lets members read and write a project's tasks, and follows membership live both ways", async () => {
    const alice = await connect(started.server.url, "rel", { userId: "alice" });
    const bob = await connect(started.server.url, "rel", { userId: "bob" });
    // A project and its first task in one push: the task's rule sees the project as pushed.
    expect(
      await push(alice, [
        ...project("p1", ["alice"]),
        ...documentTriples("tasks", "t1", { title: "plan", projectId: "p1" }, hlc),
      ]),
    ).toMatchObject({ type: "ack" });
    // Not a member: bob may not add a task to p1, nor move one there.
    expect(await push(bob, documentTriples("tasks", "t2", { title: "sneak", projectId: "p1" }, hlc))).toMatchObject({
      code: "UNAUTHORIZED",
      details: { id: "t2", operation: "create" },
    });

    bob.send({ type: "subscribe", queryId: "tasks", query: q("tasks"), cursor: null });
    expect((await bob.next("snapshot")).triples).toEqual([]);
    expect(await httpIds("bob", "tasks")).toEqual(new Set());

    // Added to the project: the task enters bob's subscription although the task did not change.
    expect(await push(alice, [membership("p1", "bob", true)])).toMatchObject({ type: "ack" });
    const entered = await bob.next("changes", (message) => message.triples.some((triple) => triple.id === "t1"));
    expect(entered.triples.filter((triple) => triple.id === "t1").map((triple) => triple.field)).toContain("title");
    expect(await httpIds("bob", "tasks")).toEqual(new Set(["t1"]));
    expect(
      await push(bob, [{ collection: "tasks", id: "t1", field: "title", value: "plan, by bob", hlc: hlc() }]),
    ).toMatchObject({ type: "ack" });

    // Removed: bob is told to drop the task, and hears nothing more of it.
    expect(await push(alice, [membership("p1", "bob", false)])).toMatchObject({ type: "ack" });
    const revoked = await bob.next("changes", (message) => (message.revoked ?? []).length > 0);
    expect(revoked.revoked).toContainEqual({ collection: "tasks", id: "t1" });
    expect(
      await push(alice, [{ collection: "tasks", id: "t1", field: "title", value: "secret again", hlc: hlc() }]),
    ).toMatchObject({ type: "ack" });
    await bob.sync();
    expect(
      bob
        .pending()
        .flatMap((message) => (message.type === "changes" ? message.triples : []))
        .filter((triple) => triple.value === "secret again"),
    ).toEqual([]);
    expect(await httpIds("bob", "tasks")).toEqual(new Set());
    expect(
      await push(bob, [{ collection: "tasks", id: "t1", field: "title", value: "no longer", hlc: hlc() }]),
    ).toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("tells a user who was taken out of a project while away to drop its tasks, naming only tasks that existed when it left", async () => {
    const alice = await connect(started.server.url, "rel", { userId: "alice" });
    expect(
      await push(alice, [
        ...project("p-away", ["alice", "frank"]),
        ...documentTriples("tasks", "t-away", { title: "before", projectId: "p-away" }, hlc),
      ]),
    ).toMatchObject({ type: "ack" });
    const frank = await connect(started.server.url, "rel", { userId: "frank" });
    frank.send({ type: "subscribe", queryId: "tasks", query: q("tasks"), cursor: null });
    const first = await frank.next("snapshot");
    expect(first.triples.some((triple) => triple.id === "t-away")).toBe(true);
    await frank.close();

    // While frank is away: he is taken out, and a task he never could read is added.
    expect(await push(alice, [membership("p-away", "frank", false)])).toMatchObject({ type: "ack" });
    expect(
      await push(alice, documentTriples("tasks", "t-after", { title: "after", projectId: "p-away" }, hlc)),
    ).toMatchObject({ type: "ack" });
    const back = await connect(started.server.url, "rel", { userId: "frank" });
    back.send({ type: "subscribe", queryId: "tasks", query: q("tasks"), cursor: first.cursor });
    const resumed = await back.next("snapshot");
    expect(resumed.revoked).toEqual([{ collection: "tasks", id: "t-away" }]);
    expect(resumed.triples.filter((triple) => triple.collection === "tasks")).toEqual([]);
  });

  it("removes from a task's room a member taken out of the task's project", async () => {
    const alice = await connect(started.server.url, "rel", { userId: "alice" });
    expect(
      await push(alice, [
        ...project("p-room", ["alice", "hank"]),
        ...documentTriples("tasks", "t-room", { title: "talk", projectId: "p-room" }, hlc),
      ]),
    ).toMatchObject({ type: "ack" });
    const hank = await connect(started.server.url, "rel", { userId: "hank" });
    const ivy = await connect(started.server.url, "rel", { userId: "ivy" });
    expect(await joinRoom(ivy, "task", "t-room")).toMatchObject({ type: "error", code: "UNAUTHORIZED" });
    expect(await joinRoom(alice, "task", "t-room")).toMatchObject({ type: "roomState" });
    expect(await joinRoom(hank, "task", "t-room")).toMatchObject({ type: "roomState" });
    expect(await alice.next("userStatus")).toMatchObject({ userId: "hank", status: {} });

    // The task does not change; the project's members do.
    expect(await push(alice, [membership("p-room", "hank", false)])).toMatchObject({ type: "ack" });
    expect(await hank.next("error")).toMatchObject({
      code: "UNAUTHORIZED",
      details: { roomType: "task", roomId: "t-room" },
    });
    expect(await alice.next("userStatus")).toMatchObject({ userId: "hank", status: null });
  });

  it("answers a resuming client's held documents with those it may no longer read, or that the server lacks", async () => {
    const alice = await connect(started.server.url, "rel", { userId: "alice" });
    expect(
      await push(alice, [
        ...project("p-held", ["alice", "gina"]),
        ...documentTriples("tasks", "t-kept", { title: "kept", projectId: "p-held" }, hlc),
      ]),
    ).toMatchObject({ type: "ack" });
    expect(
      await push(alice, [
        ...project("p-other", ["alice"]),
        ...documentTriples("tasks", "t-other", { title: "not gina's", projectId: "p-other" }, hlc),
      ]),
    ).toMatchObject({ type: "ack" });
    const gina = await connect(started.server.url, "rel", { userId: "gina" });
    gina.send({ type: "subscribe", queryId: "tasks", query: q("tasks"), cursor: null });
    const first = await gina.next("snapshot");
    await gina.close();

    const back = await connect(started.server.url, "rel", { userId: "gina" });
    back.send({
      type: "subscribe",
      queryId: "tasks",
      query: q("tasks"),
      cursor: first.cursor,
      held: ["t-kept", "t-other", "t-never"],
    });
    const resumed = await back.next("snapshot");
    expect(new Set(resumed.revoked)).toEqual(
      new Set([
        { collection: "tasks", id: "t-other" },
        { collection: "tasks", id: "t-never" },
      ]),
    );
    // A malformed list is a protocol error.
    back.send({ type: "subscribe", queryId: "bad", query: q("tasks"), cursor: first.cursor, held: [5] as never });
    expect(await back.next("error")).toMatchObject({ code: "PROTOCOL" });
  });

  it("follows rules through documents pointing back (a grant makes a board readable) and filtered subscriptions with a limit", async () => {
    const owner = await connect(started.server.url, "rel", { userId: "owner" });
    const carol = await connect(started.server.url, "rel", { userId: "carol" });
    expect(
      await push(owner, [
        ...documentTriples("boards", "b1", { name: "roadmap" }, hlc),
        ...documentTriples("boards", "b2", { name: "other" }, hlc),
      ]),
    ).toMatchObject({ type: "ack" });
    carol.send({
      type: "subscribe",
      queryId: "boards",
      query: q("boards", { orderBy: ["name", "asc"], limit: 10 }),
      cursor: null,
    });
    expect((await carol.next("snapshot")).triples).toEqual([]);

    expect(await push(owner, documentTriples("grants", "g1", { boardId: "b1", userId: "carol" }, hlc))).toMatchObject({
      type: "ack",
    });
    const entered = await carol.next("changes", (message) => message.triples.some((triple) => triple.id === "b1"));
    expect(entered.triples.some((triple) => triple.id === "b2")).toBe(false);
    expect(await httpIds("carol", "boards")).toEqual(new Set(["b1"]));

    expect(
      await push(owner, [{ collection: "grants", id: "g1", field: DELETED_FIELD, value: true, hlc: hlc() }]),
    ).toMatchObject({ type: "ack" });
    const revoked = await carol.next("changes", (message) => (message.revoked ?? []).length > 0);
    expect(revoked.revoked).toEqual([{ collection: "boards", id: "b1" }]);
    expect(await httpIds("carol", "boards")).toEqual(new Set());
  });

  it("answers a client's relational filter with the documents it reaches, and only what the user may read", async () => {
    const dave = await connect(started.server.url, "rel", { userId: "dave" });
    expect(
      await push(dave, [
        ...project("p-dave", ["dave"]),
        ...documentTriples("tasks", "td", { title: "mine", projectId: "p-dave" }, hlc),
      ]),
    ).toMatchObject({ type: "ack" });
    const eve = await connect(started.server.url, "rel", { userId: "eve" });
    expect(
      await push(eve, [
        ...project("p-eve", ["eve"]),
        ...documentTriples("tasks", "te", { title: "eve's secret", projectId: "p-eve" }, hlc),
      ]),
    ).toMatchObject({ type: "ack" });

    // Tasks of projects named "p-dave": the project comes along, so the client can run the filter itself.
    // (From another device: a connection is never sent back what it wrote.)
    const daveElsewhere = await connect(started.server.url, "rel", { userId: "dave" });
    daveElsewhere.send({
      type: "subscribe",
      queryId: "named",
      query: q("tasks", { where: { projectId: { where: { name: "p-dave" } } } }),
      cursor: null,
    });
    const snapshot = await daveElsewhere.next("snapshot");
    expect(new Set(snapshot.triples.map((triple) => `${triple.collection}/${triple.id}`))).toEqual(
      new Set(["tasks/td", "projects/p-dave"]),
    );

    // Probing eve's tasks through a filter on projects (readable or not) finds nothing.
    expect(await httpIds("dave", "projects", { where: { tasks: { where: { title: "eve's secret" } } } })).toEqual(
      new Set(),
    );
    // Under a not, every linked document the user may read comes along (the absence of a match must show).
    expect(
      await httpIds("dave", "projects", { where: { not: { tasks: { where: { title: "eve's secret" } } } } }),
    ).toEqual(new Set(["p-dave", "td"]));
    expect(await httpIds("eve", "projects", { where: { tasks: { where: { title: "eve's secret" } } } })).toEqual(
      new Set(["p-eve", "te"]),
    );
  });
});
