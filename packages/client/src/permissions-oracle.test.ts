import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { createSchema, encodeHlc, normalizeQuery, t, TICKS_PER_MS, type Triple } from "@trellis/core";
import { removeDataDir, startServerProcess, tempDataDir } from "@trellis/server/testing";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { createClient, type TrellisClient } from "./create-client.js";
import { createMemoryStorage } from "./persistence/memory-storage.js";
import { createRandom } from "./testing/fuzz-kit.js";
import { allOnline, FAST_RECONNECT, recorder, waitFor } from "./testing/live-server.js";

// The rules oracle: random read rules (owner, sharing, claims, membership of the note's project
// through a ref, a grant pointing back at the note, or/and/not) over random notes, for six users
// with different claims. What the server answers each user, and what each user's live
// subscription shows while random writes (sharing, project membership and grants included) go
// on, must equal SQLite's answer to the rule AND the query (EXISTS for the relational parts of
// both); and no user's storage may keep a note that user may not read. Seeds are fixed; SEED=<n> replays one, SEEDS=<n> runs that many (see the closing note).

const schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }) },
    projects: { name: t.string({ fallback: "" }), memberIds: t.refMany("users") },
    grants: { noteId: t.ref("notes"), userId: t.string({ fallback: "" }) },
    notes: {
      projectId: t.ref("projects"),
      text: t.string({ fallback: "" }),
      ownerId: t.string({ optional: true }),
      sharedWith: t.refMany("users"),
      published: t.boolean({ optional: true }),
      team: t.string({ optional: true }),
      score: t.number({ fallback: 0 }),
    },
  },
});
type Client = TrellisClient<typeof schema>;

const SECRET = "a-secret-for-the-rules-oracle";
interface User {
  readonly id: string;
  readonly claims: { readonly role?: string; readonly team?: string };
}
const USERS: readonly User[] = [
  { id: "u0", claims: { role: "admin", team: "red" } },
  { id: "u1", claims: { role: "member", team: "red" } },
  { id: "u2", claims: { role: "member", team: "blue" } },
  { id: "u3", claims: { team: "blue" } },
  { id: "u4", claims: { role: "member" } },
  { id: "u5", claims: {} },
];

// ---- seeded randomness ----

function rngOf(seed: number) {
  const random = createRandom(seed);
  return { ...random, int: (min: number, max: number) => min + random.int(max - min + 1) };
}
type Rng = ReturnType<typeof rngOf>;

// ---- rules, as JSON for the server and as SQL for the oracle ----

/** A rule filter: its JSON, and its SQL for one user (never NULL: 0 or 1). */
interface RuleFilter {
  readonly json: Record<string, unknown>;
  readonly sql: (user: User, params: unknown[]) => string;
}

const bool = (sql: string) => `IFNULL((${sql}), 0)`;
const ATOMS: readonly RuleFilter[] = [
  { json: { ownerId: "$user.id" }, sql: (user, params) => (params.push(user.id), bool("ownerId = ?")) },
  {
    json: { sharedWith: "$user.id" },
    sql: (user, params) => (
      params.push(user.id),
      "EXISTS (SELECT 1 FROM shares s WHERE s.note = notes.id AND s.user = ?)"
    ),
  },
  { json: { published: true }, sql: () => bool("published = 1") },
  { json: { score: { greaterThan: 60 } }, sql: () => bool("score > 60") },
  // A comparison with a claim the user lacks never holds, not even notEquals.
  {
    json: { team: "$user.team" },
    sql: (user, params) => (user.claims.team === undefined ? "0" : (params.push(user.claims.team), bool("team = ?"))),
  },
  {
    json: { team: { notEquals: "$user.team" } },
    sql: (user, params) =>
      user.claims.team === undefined ? "0" : (params.push(user.claims.team), bool("team IS NULL OR team <> ?")),
  },
  { json: { "$user.role": "admin" }, sql: (user) => (user.claims.role === "admin" ? "1" : "0") },
  {
    json: { "$user.role": { in: ["admin", "member"] } },
    sql: (user) => (user.claims.role === "admin" || user.claims.role === "member" ? "1" : "0"),
  },
  // Through relations: a member of the note's project; the project exists; a grant names the user.
  {
    json: { projectId: { where: { memberIds: "$user.id" } } },
    sql: (user, params) => (
      params.push(user.id),
      "EXISTS (SELECT 1 FROM members m WHERE m.project = notes.projectId AND m.user = ?)"
    ),
  },
  {
    json: { projectId: { collection: "projects", where: {} } },
    sql: () => "EXISTS (SELECT 1 FROM projects p WHERE p.id = notes.projectId)",
  },
  {
    json: { grants: { via: "noteId", where: { userId: "$user.id" } } },
    sql: (user, params) => (
      params.push(user.id),
      "EXISTS (SELECT 1 FROM grants g WHERE g.noteId = notes.id AND g.userId = ?)"
    ),
  },
];

function randomFilter(rng: Rng, depth: number): RuleFilter {
  const roll = rng.next();
  if (depth >= 2 || roll < 0.45) return rng.pick(ATOMS);
  const parts = Array.from({ length: rng.int(2, 3) }, () => randomFilter(rng, depth + 1));
  if (roll < 0.75)
    return {
      json: { or: parts.map((part) => part.json) },
      sql: (user, params) => `(${parts.map((part) => part.sql(user, params)).join(" OR ")})`,
    };
  if (roll < 0.9)
    return {
      json: { and: parts.map((part) => part.json) },
      sql: (user, params) => `(${parts.map((part) => part.sql(user, params)).join(" AND ")})`,
    };
  const [inner] = parts;
  return { json: { not: inner!.json }, sql: (user, params) => `NOT (${inner!.sql(user, params)})` };
}

// ---- data ----

interface Note {
  id: string;
  projectId: string | undefined;
  text: string;
  ownerId: string | undefined;
  sharedWith: Set<string>;
  published: boolean | undefined;
  team: string | undefined;
  score: number;
}

const maybe = <T>(rng: Rng, value: T): T | undefined => (rng.chance(0.25) ? undefined : value);

function randomNote(rng: Rng, id: string): Note {
  const sharedWith = new Set<string>();
  for (let n = rng.int(0, 2); n > 0; n--) sharedWith.add(rng.pick(USERS).id);
  return {
    id,
    projectId: maybe(rng, rng.pick(PROJECT_IDS)),
    text: `note ${id}`,
    ownerId: maybe(rng, rng.pick(USERS).id),
    sharedWith,
    published: maybe(rng, rng.chance(0.5)),
    team: maybe(rng, rng.pick(["red", "blue"])),
    score: rng.int(0, 100),
  };
}

/** Projects notes point at; the last is never created (a dangling ref). */
const PROJECT_IDS = ["pa", "pb", "pc", "px"];

interface Project {
  readonly id: string;
  name: string;
  readonly memberIds: Set<string>;
}

interface Grant {
  readonly id: string;
  readonly noteId: string;
  readonly userId: string;
}

/** Everything the rules and queries read, as the writer last stored it. */
interface World {
  readonly notes: Map<string, Note>;
  readonly projects: Map<string, Project>;
  readonly grants: Map<string, Grant>;
}

const fieldsOf = (note: Note) => ({
  ...(note.projectId === undefined ? {} : { projectId: note.projectId }),
  text: note.text,
  score: note.score,
  sharedWith: [...note.sharedWith],
  ...(note.ownerId === undefined ? {} : { ownerId: note.ownerId }),
  ...(note.published === undefined ? {} : { published: note.published }),
  ...(note.team === undefined ? {} : { team: note.team }),
});

// ---- queries users run, as the client API takes them and as SQL ----

interface UserQuery {
  readonly input: { where?: Record<string, unknown>; orderBy?: readonly [string, "asc" | "desc"]; limit?: number };
  readonly sql: (params: unknown[]) => string;
  /** ORDER BY and LIMIT, for a query with a window (the server then runs it with the user's rule). */
  readonly window?: string;
}

function randomQuery(rng: Rng): UserQuery {
  const k = rng.int(10, 90);
  return rng.pick<UserQuery>([
    { input: {}, sql: () => "1" },
    { input: { where: { score: { greaterThan: k } } }, sql: (params) => (params.push(k), bool("score > ?")) },
    { input: { where: { published: true } }, sql: () => bool("published = 1") },
    { input: { where: { team: "red" } }, sql: () => bool("team = 'red'") },
    {
      input: { where: { or: [{ ownerId: "u1" }, { score: { lessThan: k } }] } },
      sql: (params) => (params.push(k), `(${bool("ownerId = 'u1'")} OR ${bool("score < ?")})`),
    },
    { input: { orderBy: ["score", "desc"], limit: 3 }, sql: () => "1", window: "ORDER BY score DESC, id ASC LIMIT 3" },
    // Relational filters: the client runs them on the documents they reach, sent with the result.
    {
      input: { where: { projectId: { where: { name: "alpha" } } } },
      sql: () => "EXISTS (SELECT 1 FROM projects p WHERE p.id = notes.projectId AND p.name = 'alpha')",
    },
    {
      input: { where: { not: { grants: { where: { userId: "u2" } } } } },
      sql: () => "NOT EXISTS (SELECT 1 FROM grants g WHERE g.noteId = notes.id AND g.userId = 'u2')",
    },
  ]);
}

/** The ids SQLite finds for `user` under the read rule and the query. */
function oracle(world: World, rule: RuleFilter | boolean, user: User, query: UserQuery): string[] {
  const db = new Database(":memory:");
  try {
    db.exec(
      "CREATE TABLE notes (id TEXT PRIMARY KEY, projectId TEXT, ownerId TEXT, published INTEGER, team TEXT, score REAL); CREATE TABLE shares (note TEXT, user TEXT);" +
        "CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT); CREATE TABLE members (project TEXT, user TEXT); CREATE TABLE grants (id TEXT PRIMARY KEY, noteId TEXT, userId TEXT)",
    );
    const insert = db.prepare("INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?)");
    const share = db.prepare("INSERT INTO shares VALUES (?, ?)");
    for (const note of world.notes.values()) {
      insert.run(
        note.id,
        note.projectId ?? null,
        note.ownerId ?? null,
        note.published === undefined ? null : note.published ? 1 : 0,
        note.team ?? null,
        note.score,
      );
      for (const member of note.sharedWith) share.run(note.id, member);
    }
    for (const project of world.projects.values()) {
      db.prepare("INSERT INTO projects VALUES (?, ?)").run(project.id, project.name);
      for (const member of project.memberIds) db.prepare("INSERT INTO members VALUES (?, ?)").run(project.id, member);
    }
    for (const grant of world.grants.values())
      db.prepare("INSERT INTO grants VALUES (?, ?, ?)").run(grant.id, grant.noteId, grant.userId);
    const params: unknown[] = [];
    const ruleSql = typeof rule === "boolean" ? (rule ? "1" : "0") : rule.sql(user, params);
    const querySql = query.sql(params);
    const rows = db
      .prepare(`SELECT id FROM notes WHERE (${ruleSql}) AND (${querySql}) ${query.window ?? ""}`)
      .all(...params) as { id: string }[];
    return rows.map((row) => row.id).sort();
  } finally {
    db.close();
  }
}

function token(user: User): Promise<string> {
  return new SignJWT({ ...user.claims })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(user.id)
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(SECRET));
}

/** The notes the server answers `user` for a query over HTTP. */
async function serverIds(url: string, appId: string, user: User, query: UserQuery): Promise<string[]> {
  const normalized = normalizeQuery(schema.collections.notes!, query.input, schema.collections);
  const response = await fetch(`${url}/v1/query`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await token(user)}` },
    body: JSON.stringify({ appId, query: normalized.data, cursor: null }),
  });
  const body = (await response.json()) as { triples: Triple[] };
  // The documents relational filters reach come along; the answer is the notes.
  return [...new Set(body.triples.filter((triple) => triple.collection === "notes").map((triple) => triple.id))].sort();
}

const seeds = (): number[] => {
  if (process.env.SEED !== undefined) return [Number(process.env.SEED)];
  const count = Number(process.env.SEEDS ?? 3);
  return Array.from({ length: count }, (_, index) => 1_000 + index);
};

describe("the rules oracle", () => {
  it.each(seeds())(
    "matches SQLite for every user, one-shot and live, with seed %i",
    { timeout: 120_000 },
    async (seed) => {
      const rng = rngOf(seed);
      const describeFailure = (what: string) => `${what} (replay with SEED=${seed})`;
      const rule: RuleFilter | boolean = rng.chance(0.1) ? rng.chance(0.5) : randomFilter(rng, 0);
      const open = { read: true, create: true, update: true, delete: true };
      const rules = {
        users: { read: true, create: true },
        projects: open,
        grants: open,
        notes: { read: typeof rule === "boolean" ? rule : rule.json, create: true, update: true, delete: true },
      };
      const dataDir = tempDataDir();
      const file = join(dataDir, "rules.json");
      writeFileSync(file, JSON.stringify(rules));
      const server = await startServerProcess({ dataDir, args: ["--permissions", file, "--jwt-secret", SECRET] });
      const clients: Client[] = [];
      try {
        const appId = `oracle-${seed}`;
        const openClient = async (user: User, storage = createMemoryStorage()) => {
          const client = createClient({
            schema,
            appId,
            serverUrl: server.url,
            auth: { token: await token(user) },
            reconnect: FAST_RECONNECT,
            storage,
          });
          clients.push(client);
          return client;
        };
        // Writes go straight to the server as triples (a client keeps only what its user may read,
        // so no one client could make every change); each must be stored.
        const writerToken = await token(USERS[0]!);
        let clock = 0;
        let batches = 0;
        const hlc = () =>
          encodeHlc({ ticks: (clock = Math.max(clock + 1, Date.now() * TICKS_PER_MS)), node: "oracle-writer" });
        const push = async (triples: readonly Triple[]) => {
          const response = await fetch(`${server.url}/v1/push`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${writerToken}` },
            body: JSON.stringify({ appId, clientId: "oracle-writer", batchId: `w${++batches}`, triples }),
          });
          expect(response.status, describeFailure(`a write was not stored: ${await response.text()}`)).toBe(200);
        };
        const cell = (note: Note, field: string, value: unknown): Triple => ({
          collection: "notes",
          id: note.id,
          field,
          value,
          hlc: hlc(),
        });
        const member = (note: Note, user: string, isMember: boolean): Triple => ({
          collection: "notes",
          id: note.id,
          field: "sharedWith",
          element: user,
          value: isMember,
          hlc: hlc(),
        });
        const created = (note: Note): Triple[] => [
          cell(note, "createdAt", Date.now()),
          ...Object.entries(fieldsOf(note)).flatMap(([field, value]) =>
            field === "sharedWith" ? [] : [cell(note, field, value)],
          ),
          ...[...note.sharedWith].map((user) => member(note, user, true)),
        ];
        const world: World = { notes: new Map(), projects: new Map(), grants: new Map() };
        const { notes, projects, grants } = world;
        const create = async (note: Note) => {
          notes.set(note.id, note);
          await push(created(note));
        };
        const projectCell = (project: Project, field: string, value: unknown): Triple => ({
          collection: "projects",
          id: project.id,
          field,
          value,
          hlc: hlc(),
        });
        const membership = (project: Project, user: string, isMember: boolean): Triple => ({
          collection: "projects",
          id: project.id,
          field: "memberIds",
          element: user,
          value: isMember,
          hlc: hlc(),
        });
        const createProject = async (id: string) => {
          const project: Project = {
            id,
            name: rng.pick(["alpha", "beta"]),
            memberIds: new Set(USERS.filter(() => rng.chance(0.35)).map((user) => user.id)),
          };
          projects.set(id, project);
          await push([
            projectCell(project, "createdAt", Date.now()),
            projectCell(project, "name", project.name),
            ...[...project.memberIds].map((user) => membership(project, user, true)),
          ]);
        };
        let grantCount = 0;
        const grantCell = (grant: Grant, field: string, value: unknown): Triple => ({
          collection: "grants",
          id: grant.id,
          field,
          value,
          hlc: hlc(),
        });
        const createGrant = async () => {
          const grant: Grant = {
            id: `g${++grantCount}`,
            noteId: rng.pick([...notes.keys()]),
            userId: rng.pick(USERS).id,
          };
          grants.set(grant.id, grant);
          await push([
            grantCell(grant, "createdAt", Date.now()),
            grantCell(grant, "noteId", grant.noteId),
            grantCell(grant, "userId", grant.userId),
          ]);
        };
        const deletedProjects = new Set<string>();
        for (const id of PROJECT_IDS.slice(0, -1)) await createProject(id);
        for (let n = 0; n < 24; n++) await create(randomNote(rng, `n${String(n).padStart(2, "0")}`));
        for (let n = 0; n < 8; n++) await createGrant();

        // One-shot: each user, several random queries, over HTTP.
        for (const user of USERS) {
          for (let q = 0; q < 4; q++) {
            const query = randomQuery(rng);
            expect(
              await serverIds(server.url, appId, user, query),
              describeFailure(`${user.id} ${JSON.stringify(query.input)} under ${JSON.stringify(rules.notes.read)}`),
            ).toEqual(oracle(world, rule, user, query));
          }
        }

        // Live: each user follows a random query while the writer changes notes.
        const watchers = await Promise.all(
          USERS.map(async (user) => {
            const storage = createMemoryStorage();
            const client = await openClient(user, storage);
            const query = randomQuery(rng);
            const calls = recorder<readonly { id: string }[]>();
            client.database.notes.subscribe({ ...query.input, fields: { id: true } } as never, calls.callback);
            return { user, client, storage, query, calls };
          }),
        );
        const check = async (step: string) => {
          await allOnline(clients);
          for (const { user, query, calls, storage } of watchers) {
            const expected = oracle(world, rule, user, query);
            const readable = new Set(oracle(world, rule, user, { input: {}, sql: () => "1" }));
            await waitFor(
              () => JSON.stringify((calls.last?.data ?? []).map((doc) => doc.id).sort()) === JSON.stringify(expected),
              () =>
                describeFailure(
                  `${step}: ${user.id}'s subscription ${JSON.stringify(query.input)} shows ${JSON.stringify((calls.last?.data ?? []).map((doc) => doc.id).sort())}, SQLite ${JSON.stringify(expected)}, rule ${JSON.stringify(rules.notes.read)}`,
                ),
              10_000,
            );
            const stored = async () =>
              ((await storage.readCollection("notes")).data?.documents ?? [])
                .filter((document) => !document.triples.some((triple) => triple.field === "$deleted"))
                .map((document) => document.id);
            await waitFor(
              async () => (await stored()).every((id) => readable.has(id)),
              describeFailure(`${step}: ${user.id}'s storage holds notes the rule does not let it read`),
              10_000,
            );
          }
        };
        await check("after the initial sync");
        for (let step = 0; step < 14; step++) {
          const ids = [...notes.keys()];
          const note = notes.get(rng.pick(ids))!;
          const action = rng.int(0, 10);
          if (action === 0) {
            note.ownerId = rng.pick(USERS).id;
            await push([cell(note, "ownerId", note.ownerId)]);
          } else if (action === 1 || action === 2) {
            const user = rng.pick(USERS).id;
            const isMember = !note.sharedWith.has(user);
            if (isMember) note.sharedWith.add(user);
            else note.sharedWith.delete(user);
            await push([member(note, user, isMember)]);
          } else if (action === 3) {
            note.published = !(note.published ?? false);
            note.team = rng.pick(["red", "blue"]);
            await push([cell(note, "published", note.published), cell(note, "team", note.team)]);
          } else if (action === 4) {
            note.score = rng.int(0, 100);
            await push([cell(note, "score", note.score)]);
          } else if (action === 5) {
            notes.delete(note.id);
            await push([cell(note, "$deleted", true)]);
          } else if (action === 6) {
            await create(randomNote(rng, `m${step}`));
          } else if (action === 7) {
            // Membership of a project changes: its notes enter or leave members' results.
            const project = rng.pick([...projects.values()]);
            const user = rng.pick(USERS).id;
            const isMember = !project.memberIds.has(user);
            if (isMember) project.memberIds.add(user);
            else project.memberIds.delete(user);
            await push([membership(project, user, isMember)]);
          } else if (action === 8) {
            // A project is renamed, deleted or (again) created; or a note moves to another one.
            const id = rng.pick(PROJECT_IDS);
            const project = projects.get(id);
            // A deleted document stays deleted: its id is never created again.
            if (project === undefined && !deletedProjects.has(id)) await createProject(id);
            else if (project === undefined) {
              note.projectId = id;
              await push([cell(note, "projectId", id)]);
            } else if (rng.chance(0.3)) {
              projects.delete(id);
              deletedProjects.add(id);
              await push([projectCell(project, "$deleted", true)]);
            } else if (rng.chance(0.5)) {
              project.name = project.name === "alpha" ? "beta" : "alpha";
              await push([projectCell(project, "name", project.name)]);
            } else {
              note.projectId = rng.pick(PROJECT_IDS);
              await push([cell(note, "projectId", note.projectId)]);
            }
          } else if (action === 9 || grants.size === 0) {
            await createGrant();
          } else {
            const grant = rng.pick([...grants.values()]);
            grants.delete(grant.id);
            await push([grantCell(grant, "$deleted", true)]);
          }
          await check(`after step ${step} (action ${action} on ${note.id})`);
        }
      } finally {
        await Promise.all(clients.map((client) => client.close()));
        await server.stop();
        removeDataDir(dataDir);
      }
    },
  );
});
