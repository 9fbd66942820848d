import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { type DatabaseResult, fail, ok } from "@trellis/core";
import { AppDatabase } from "./app-database.js";
import { AppHub } from "./app-hub.js";
import type { Checkpointer } from "./checkpointer.js";
import type { FaultHook } from "./faults.js";
import type { Log } from "./log.js";
import type { AppRegistry } from "./apps/app-registry.js";
import { MetricsHistory } from "./apps/metrics-history.js";
import { Permissions } from "./permissions/permissions.js";
import { parseRules, RulesError } from "./permissions/rules.js";

/** How {@link OpenApps} keeps apps open. */
export interface OpenAppsOptions {
  /** An app with no connection that nobody asked for during this long is closed. */
  readonly idleMs: number;
  /** Apps open at once; the least recently used idle one is closed to make room. */
  readonly maxOpen: number;
  /** The most linked documents the relations of one query result may examine. */
  readonly maxQueryCost: number;
  /** Triples of one push handled in one event-loop turn. */
  readonly sliceTriples: number;
  /** Triples per message of a large snapshot. */
  readonly snapshotPartTriples?: number | undefined;
  readonly checkpointer?: Checkpointer | undefined;
  /** The server's rules: those of every app without rules of its own (see design/024). */
  readonly permissions?: Permissions | undefined;
  /**
   * The registered apps. With `isOpenToAnyApp` (development mode) a new app id is registered on
   * first use; otherwise an unregistered one is refused before anything of it is created.
   */
  readonly apps: AppRegistry;
  readonly isOpenToAnyApp: boolean;
  readonly log?: Log | undefined;
  readonly fault?: FaultHook | undefined;
  /** How often each open app's connections and writes/s are sampled for its metrics history. Default 5 s. */
  readonly metricsSampleMs?: number | undefined;
}

/** Which rules an app follows, as the admin API shows them. */
export interface AppRules {
  readonly appId: string;
  /** Its own ("app"), the server's ("server"), or none: every user may do everything ("none"). */
  readonly source: "app" | "server" | "none";
  /** Its own rules as they were set; null when it follows the server's or none. */
  readonly rules: unknown;
}

/**
 * The apps a server serves, opened on first use: each app id has its own SQLite file under
 * `dataDir` and its own hub, so no request can reach another app's data. Memory and file
 * handles follow the apps in use, not every app ever opened: an app with no connection that
 * nobody asked for during `idleMs` is closed, and at most `maxOpen` apps are open at once (the
 * least recently used app without connections makes room for a new one; when every open app has
 * connections, the new one is refused, so no stream of new app ids can take the file handles of
 * apps in use).
 */
export class OpenApps {
  /** Open hubs, least recently used first (each use moves its app to the end). */
  private readonly hubs = new Map<string, AppHub>();
  private readonly lastUsed = new Map<string, number>();
  /** Apps' own rules, compiled when first needed. */
  private readonly ownPermissions = new Map<string, Permissions>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  private readonly sampler: ReturnType<typeof setInterval>;
  private readonly history = new MetricsHistory();

  constructor(
    private readonly dataDir: string,
    private readonly options: OpenAppsOptions,
  ) {
    this.sweeper = setInterval(() => this.closeIdle(), Math.max(10, options.idleMs / 2));
    this.sweeper.unref();
    this.sampler = setInterval(() => this.sample(), options.metricsSampleMs ?? 5_000);
    this.sampler.unref();
  }

  private sample(): void {
    const at = Date.now();
    for (const [appId, hub] of this.hubs) {
      const { connections, writesPerSecond } = hub.metrics();
      this.history.record(appId, { at, connections, writesPerSecond });
    }
    this.history.recordClosed(new Set(this.hubs.keys()), at);
  }

  /**
   * The hub of an app, opening its database the first time; VALIDATION for a bad app id, STORAGE
   * when the open-app limit is reached with every open app in use.
   */
  get(appId: string): DatabaseResult<AppHub> {
    const existing = this.hubs.get(appId);
    if (existing !== undefined) {
      this.touch(appId, existing);
      return ok(existing);
    }
    const checked = AppDatabase.checkAppId(appId);
    if (checked.error) return checked;
    if (!this.options.apps.has(appId)) {
      if (!this.options.isOpenToAnyApp)
        return fail(
          "UNAUTHORIZED",
          `No app "${appId}" exists on this server; an admin creates apps (see docs/admin.md).`,
          { appId },
        );
      this.options.apps.register(appId, appId);
    }
    const permissions = this.permissionsOf(appId);
    if (permissions.error) return permissions;
    if (this.hubs.size >= this.options.maxOpen && !this.closeLeastRecentlyUsed()) {
      const limit = this.options.maxOpen;
      return fail(
        "STORAGE",
        `The server holds its limit of ${limit} open apps, each with connections; try again later.`,
        { limit },
      );
    }
    const opened = AppHub.open(this.dataDir, appId, {
      log: this.options.log,
      fault: this.options.fault,
      maxQueryCost: this.options.maxQueryCost,
      sliceTriples: this.options.sliceTriples,
      snapshotPartTriples: this.options.snapshotPartTriples,
      checkpointer: this.options.checkpointer,
      permissions: permissions.data,
      rulesChangedAt: this.options.apps.rulesChangedAt(appId),
      onFailure: () => this.reopen(appId, opened.data!),
    });
    if (opened.data !== undefined) {
      this.touch(appId, opened.data);
      this.history.record(appId, { at: Date.now(), connections: 0, writesPerSecond: 0 });
    }
    return opened;
  }

  /**
   * The rules an app follows: its own, else the server's. STORAGE when its own no longer parse
   * (stored by another version): the app stays closed rather than served under other rules.
   */
  private permissionsOf(appId: string): DatabaseResult<Permissions | undefined> {
    const cached = this.ownPermissions.get(appId);
    if (cached !== undefined) return ok(cached);
    const own = this.options.apps.rulesOf(appId);
    if (own === undefined) return ok(this.options.permissions);
    try {
      const permissions = new Permissions(parseRules(own));
      this.ownPermissions.set(appId, permissions);
      return ok(permissions);
    } catch (error) {
      return fail(
        "STORAGE",
        `The permission rules stored for app "${appId}" are not valid (${(error as Error).message}); an admin sets valid ones (docs/admin.md).`,
        { appId },
      );
    }
  }

  /** Which rules an app follows (see {@link AppRules}); NOT_FOUND for an app that is not registered. */
  rules(appId: string): DatabaseResult<AppRules> {
    if (!this.options.apps.has(appId)) return fail("NOT_FOUND", `No app "${appId}" exists on this server.`, { appId });
    const own = this.options.apps.rulesOf(appId);
    if (own !== undefined) return ok({ appId, source: "app", rules: own });
    return ok({ appId, source: this.options.permissions?.isEnforced === true ? "server" : "none", rules: null });
  }

  /**
   * Gives an app rules of its own, or (`undefined`) sends it back to the server's: checked first
   * (VALIDATION naming the path of the first mistake, nothing changed), then stored and applied
   * to the open app by closing it and its connections, which resume under them.
   */
  setRules(appId: string, rules: unknown): DatabaseResult<AppRules> {
    if (!this.options.apps.has(appId)) return fail("NOT_FOUND", `No app "${appId}" exists on this server.`, { appId });
    let parsed: Permissions | undefined;
    if (rules !== undefined) {
      try {
        parsed = new Permissions(parseRules(rules));
      } catch (error) {
        if (!(error instanceof RulesError)) throw error;
        return fail("VALIDATION", error.message, { path: error.path });
      }
    }
    // Closed first, so everything it stored under the old rules is behind the change number
    // recorded: clients that resume from a cursor up to it get whole results (see `AppHub`).
    this.restart(appId, "permission rules changed");
    const seq = AppDatabase.latestSeq(this.dataDir, appId);
    if (seq.error) return seq;
    this.options.apps.setRules(appId, rules, seq.data);
    if (parsed === undefined) this.ownPermissions.delete(appId);
    else this.ownPermissions.set(appId, parsed);
    return this.rules(appId);
  }

  /**
   * Closes an open app and then its connections (1012, `reason`: a few words): its clients
   * reconnect and resume on the app opened afresh, with what changed (rules, auth) in effect.
   */
  restart(appId: string, reason: string): void {
    const hub = this.hubs.get(appId);
    if (hub === undefined) return;
    this.forget(appId);
    hub.closeAndDrop(reason);
  }

  /** An open app's hub, without opening it or counting as a use (the admin API's views of a running app). */
  running(appId: string): AppHub | undefined {
    return this.hubs.get(appId);
  }

  /** Open apps. */
  get size(): number {
    return this.hubs.size;
  }

  /**
   * Deletes an app for good: its connections are told and closed, its database closed and its
   * files removed, and it leaves the registry. NOT_FOUND for an app that is not registered.
   */
  remove(appId: string): DatabaseResult<void> {
    if (!this.options.apps.has(appId)) return fail("NOT_FOUND", `No app "${appId}" exists on this server.`, { appId });
    const hub = this.hubs.get(appId);
    if (hub !== undefined) {
      hub.expel(`App "${appId}" was deleted.`);
      this.forget(appId);
      hub.close();
    }
    const file = join(this.dataDir, `${appId}.sqlite`);
    this.options.checkpointer?.forget(file);
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
    this.options.apps.remove(appId);
    this.ownPermissions.delete(appId);
    this.history.forget(appId);
    return ok(undefined);
  }

  /**
   * What the admin API reports of an app: whether it is open, its connections, live queries and
   * writes per second (all 0 while closed), the bytes of its database files, and its recent
   * samples of connections and writes per second (`history`, oldest first).
   */
  metrics(appId: string): DatabaseResult<Record<string, unknown>> {
    if (!this.options.apps.has(appId)) return fail("NOT_FOUND", `No app "${appId}" exists on this server.`, { appId });
    const hub = this.hubs.get(appId);
    const file = join(this.dataDir, `${appId}.sqlite`);
    let storageBytes = 0;
    for (const suffix of ["", "-wal", "-shm"])
      storageBytes += statSync(`${file}${suffix}`, { throwIfNoEntry: false })?.size ?? 0;
    const running = hub?.metrics() ?? { connections: 0, liveQueries: 0, writesPerSecond: 0 };
    return ok({ id: appId, isOpen: hub !== undefined, ...running, storageBytes, history: this.history.of(appId) });
  }

  /** Commits what is queued and closes every database. */
  close(): void {
    clearInterval(this.sweeper);
    clearInterval(this.sampler);
    for (const hub of this.hubs.values()) hub.close();
    this.hubs.clear();
    this.lastUsed.clear();
  }

  private touch(appId: string, hub: AppHub): void {
    this.hubs.delete(appId);
    this.hubs.set(appId, hub);
    this.lastUsed.set(appId, Date.now());
  }

  /** A failed hub is closed; the next request for its app opens it afresh from its database. */
  private reopen(appId: string, hub: AppHub): void {
    if (this.hubs.get(appId) !== hub) return;
    this.forget(appId);
    hub.close();
  }

  private closeLeastRecentlyUsed(): boolean {
    for (const [appId, hub] of this.hubs) {
      if (hub.connectionCount > 0) continue;
      this.forget(appId);
      hub.close();
      return true;
    }
    return false;
  }

  private forget(appId: string): void {
    this.hubs.delete(appId);
    this.lastUsed.delete(appId);
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const [appId, hub] of this.hubs) {
      if (hub.connectionCount > 0 || now - this.lastUsed.get(appId)! < this.options.idleMs) continue;
      // close() commits whatever is still queued first; a later request opens the app again.
      this.forget(appId);
      try {
        hub.close();
      } catch (error) {
        this.options.log?.("error", "Could not close an idle app", { appId, error: String(error) });
      }
    }
  }
}
