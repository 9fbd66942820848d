import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { type DatabaseResult, fail, ok } from "@trellis/core";
import { AppDatabase } from "../app-database.js";

/** The registry's file in the data folder; the dot keeps it apart from app files (`<appId>.sqlite`, ids have no dots). */
export const REGISTRY_FILE = "trellis.apps.sqlite";

/** One registered app. */
export interface AppRecord {
  readonly id: string;
  readonly name: string;
  /** When it was registered (epoch ms). */
  readonly createdAt: number;
}

/** A service key of an app, as listed (its secret is shown once, when it is created). */
export interface ServiceKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
}

/** What a valid service key grants: privileged access to one app. */
export interface ServiceKeyGrant {
  readonly appId: string;
  readonly keyId: string;
}

/** The longest app (or service key) name. */
const MAX_NAME_LENGTH = 200;
/** `tsk_<key id>.<secret>`: the id finds the key, the secret proves it (only its SHA-256 is stored). */
const SERVICE_KEY = /^tsk_([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;
/** The most service keys one app may have. */
const MAX_KEYS_PER_APP = 100;

/**
 * The apps a server knows, in a SQLite file of its own in the data folder (durable like the
 * apps' data: WAL, `synchronous = FULL`). On open it registers every app database already in
 * the folder, so a data folder from a server without a registry keeps its apps. With an admin
 * secret (production mode) only registered apps are served; without one (development mode) an
 * app is registered the first time it is used. See docs/admin.md.
 *
 * @example
 * const apps = AppRegistry.open("./data").data!;
 * const app = apps.create("My app").data!; // { id: "k3V…", name: "My app", createdAt }
 * apps.has(app.id); // true
 */
export class AppRegistry {
  private readonly ids: Set<string>;
  private readonly statements;

  private constructor(private readonly db: Database.Database) {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.exec(
      "CREATE TABLE IF NOT EXISTS apps (id TEXT PRIMARY KEY, name TEXT NOT NULL, createdAt INTEGER NOT NULL) STRICT",
    );
    // rules NULL: the app follows the server's rules again; sinceSeq: its change number when they changed.
    db.exec(
      "CREATE TABLE IF NOT EXISTS app_auth (id TEXT PRIMARY KEY, settings TEXT NOT NULL, updatedAt INTEGER NOT NULL) STRICT",
    );
    db.exec(
      "CREATE TABLE IF NOT EXISTS service_keys (id TEXT PRIMARY KEY, appId TEXT NOT NULL, name TEXT NOT NULL, secretHash BLOB NOT NULL, createdAt INTEGER NOT NULL) STRICT",
    );
    db.exec(
      "CREATE TABLE IF NOT EXISTS app_rules (id TEXT PRIMARY KEY, rules TEXT, sinceSeq INTEGER NOT NULL, updatedAt INTEGER NOT NULL) STRICT",
    );
    this.statements = {
      insert: db.prepare<[string, string, number]>("INSERT OR IGNORE INTO apps (id, name, createdAt) VALUES (?, ?, ?)"),
      all: db.prepare<[], AppRecord>("SELECT id, name, createdAt FROM apps ORDER BY createdAt, id"),
      remove: db.prepare<[string]>("DELETE FROM apps WHERE id = ?"),
      rules: db.prepare<[string], { rules: string | null; sinceSeq: number }>(
        "SELECT rules, sinceSeq FROM app_rules WHERE id = ?",
      ),
      setRules: db.prepare<[string, string | null, number, number]>(
        "INSERT INTO app_rules (id, rules, sinceSeq, updatedAt) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET rules = excluded.rules, sinceSeq = excluded.sinceSeq, updatedAt = excluded.updatedAt",
      ),
      clearRules: db.prepare<[string]>("DELETE FROM app_rules WHERE id = ?"),
      auth: db.prepare<[string], { settings: string }>("SELECT settings FROM app_auth WHERE id = ?"),
      setAuth: db.prepare<[string, string, number]>(
        "INSERT INTO app_auth (id, settings, updatedAt) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET settings = excluded.settings, updatedAt = excluded.updatedAt",
      ),
      clearAuth: db.prepare<[string]>("DELETE FROM app_auth WHERE id = ?"),
      insertKey: db.prepare<[string, string, string, Buffer, number]>(
        "INSERT INTO service_keys (id, appId, name, secretHash, createdAt) VALUES (?, ?, ?, ?, ?)",
      ),
      keysOf: db.prepare<[string], ServiceKeyRecord>(
        "SELECT id, name, createdAt FROM service_keys WHERE appId = ? ORDER BY createdAt, id",
      ),
      key: db.prepare<[string], { appId: string; secretHash: Buffer }>(
        "SELECT appId, secretHash FROM service_keys WHERE id = ?",
      ),
      revokeKey: db.prepare<[string, string]>("DELETE FROM service_keys WHERE appId = ? AND id = ?"),
      clearKeys: db.prepare<[string]>("DELETE FROM service_keys WHERE appId = ?"),
    };
    this.ids = new Set(this.statements.all.all().map((app) => app.id));
  }

  /** Opens (or creates) the registry of a data folder and registers the app databases found in it. */
  static open(dataDir: string): DatabaseResult<AppRegistry> {
    try {
      if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true });
      const registry = new AppRegistry(new Database(join(dataDir, REGISTRY_FILE)));
      for (const file of readdirSync(dataDir)) {
        const id = /^(.+)\.sqlite$/.exec(file)?.[1];
        if (id !== undefined && file !== REGISTRY_FILE && AppDatabase.checkAppId(id).error === undefined)
          registry.register(id, id);
      }
      return ok(registry);
    } catch (error) {
      return fail("STORAGE", `Could not open the app registry in ${dataDir}: ${(error as Error).message}`);
    }
  }

  /** Whether an app is registered. */
  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Registers an app under a given id (development mode, migration); nothing if it is registered. */
  register(id: string, name: string): void {
    if (this.ids.has(id)) return;
    this.statements.insert.run(id, name, Date.now());
    this.ids.add(id);
  }

  /** Registers a new app with a fresh id: VALIDATION for a name that is not 1-200 characters. */
  create(name: unknown): DatabaseResult<AppRecord> {
    if (typeof name !== "string" || name.trim() === "" || name.length > MAX_NAME_LENGTH) {
      return fail("VALIDATION", `An app's name is 1-${MAX_NAME_LENGTH} characters.`, { field: "name" });
    }
    let id: string;
    do id = freshId();
    while (this.ids.has(id));
    this.register(id, name.trim());
    return ok(this.list().find((app) => app.id === id)!);
  }

  /** Unregisters an app, its permission rules with it; false if it was not registered. */
  remove(id: string): boolean {
    if (!this.ids.has(id)) return false;
    this.db.transaction(() => {
      this.statements.remove.run(id);
      this.statements.clearRules.run(id);
      this.statements.clearKeys.run(id);
      this.statements.clearAuth.run(id);
    })();
    this.ids.delete(id);
    return true;
  }

  /** An app's own permission rules (parsed JSON, as they were set), or undefined when it follows the server's. */
  rulesOf(id: string): unknown {
    const row = this.statements.rules.get(id);
    return row?.rules == null ? undefined : JSON.parse(row.rules);
  }

  /**
   * The app's change number (see `AppDatabase.cursor`) when its rules last changed, through the
   * admin API; undefined if they never did. A client that synced up to it or before saw the app's
   * data under other rules.
   */
  rulesChangedAt(id: string): number | undefined {
    return this.statements.rules.get(id)?.sinceSeq;
  }

  /**
   * Gives an app rules of its own (checked by the caller), or with `undefined` sends it back to
   * the server's, recording `seq`, the app's change number at that moment.
   */
  setRules(id: string, rules: unknown, seq: number): void {
    this.statements.setRules.run(id, rules === undefined ? null : JSON.stringify(rules), seq, Date.now());
  }

  /** An app's own auth settings (as checked by `parseAuthSettings` when set), or undefined when it uses the server's. */
  authOf(id: string): unknown {
    const row = this.statements.auth.get(id);
    return row === undefined ? undefined : JSON.parse(row.settings);
  }

  /** Gives an app auth settings of its own (checked by the caller), or with `undefined` sends it back to the server's. */
  setAuth(id: string, settings: unknown): void {
    if (settings === undefined) this.statements.clearAuth.run(id);
    else this.statements.setAuth.run(id, JSON.stringify(settings), Date.now());
  }

  /**
   * Creates a service key for an app: the key itself (`tsk_…`) is in the answer and nowhere
   * else, the registry keeps a hash of its secret. VALIDATION for a bad name or too many keys.
   */
  createKey(appId: string, name: unknown): DatabaseResult<ServiceKeyRecord & { readonly key: string }> {
    if (typeof name !== "string" || name.trim() === "" || name.length > MAX_NAME_LENGTH) {
      return fail("VALIDATION", `A service key's name is 1-${MAX_NAME_LENGTH} characters.`, { field: "name" });
    }
    if (this.keys(appId).length >= MAX_KEYS_PER_APP)
      return fail("VALIDATION", `An app has at most ${MAX_KEYS_PER_APP} service keys; revoke one first.`, {
        limit: MAX_KEYS_PER_APP,
      });
    const id = freshId();
    const secret = randomBytes(32).toString("base64url");
    const createdAt = Date.now();
    this.statements.insertKey.run(id, appId, name.trim(), hashOf(secret), createdAt);
    return ok({ id, name: name.trim(), createdAt, key: `tsk_${id}.${secret}` });
  }

  /** An app's service keys (without their secrets), oldest first. */
  keys(appId: string): ServiceKeyRecord[] {
    return this.statements.keysOf.all(appId);
  }

  /** Revokes a service key of an app: from now on it is refused. False if the app has no such key. */
  revokeKey(appId: string, keyId: string): boolean {
    return this.statements.revokeKey.run(appId, keyId).changes > 0;
  }

  /** What a service key grants, or undefined when it is not a key of a registered app (its secret compared in constant time). */
  verifyKey(key: string): ServiceKeyGrant | undefined {
    const match = SERVICE_KEY.exec(key);
    if (match === null) return undefined;
    const row = this.statements.key.get(match[1]!);
    if (row === undefined || !timingSafeEqual(row.secretHash, hashOf(match[2]!)) || !this.ids.has(row.appId))
      return undefined;
    return { appId: row.appId, keyId: match[1]! };
  }

  /** Every registered app, oldest first. */
  list(): AppRecord[] {
    return this.statements.all.all();
  }

  close(): void {
    this.db.close();
  }
}

function hashOf(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}

/**
 * 16 characters of [A-Za-z0-9_-] from a secure random source, never starting with "-": an id
 * typed after a command (`trellis-server apps keys revoke ID KEY_ID`) must not read as an option.
 */
function freshId(): string {
  for (;;) {
    const id = randomBytes(12).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}
