import { type DatabaseResult, ok } from "@trellis/core";
import { AppHub } from "./app-hub.js";

/**
 * The apps a server serves, opened on first use: each app id has its own SQLite file under
 * `dataDir` and its own hub, so no request can reach another app's data. An app with no
 * connection that nobody asked for during `idleMs` is closed (its database and its in-memory
 * copy), so memory follows the apps in use, not every app ever opened.
 */
export class AppHubs {
  private readonly hubs = new Map<string, AppHub>();
  private readonly lastUsed = new Map<string, number>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(
    private readonly dataDir: string,
    private readonly idleMs: number,
  ) {
    this.sweeper = setInterval(() => this.closeIdle(), Math.max(10, idleMs / 2));
    this.sweeper.unref();
  }

  /** The hub of an app, opening its database the first time; VALIDATION for a bad app id. */
  get(appId: string): DatabaseResult<AppHub> {
    this.lastUsed.set(appId, Date.now());
    const existing = this.hubs.get(appId);
    if (existing !== undefined) return ok(existing);
    const opened = AppHub.open(this.dataDir, appId);
    if (opened.data !== undefined) this.hubs.set(appId, opened.data);
    else this.lastUsed.delete(appId);
    return opened;
  }

  /** Open apps. */
  get size(): number {
    return this.hubs.size;
  }

  /** Commits what is queued and closes every database. */
  close(): void {
    clearInterval(this.sweeper);
    for (const hub of this.hubs.values()) hub.close();
    this.hubs.clear();
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const [appId, hub] of this.hubs) {
      if (hub.connectionCount > 0 || now - this.lastUsed.get(appId)! < this.idleMs) continue;
      // close() commits whatever is still queued first; a later request opens the app again.
      hub.close();
      this.hubs.delete(appId);
      this.lastUsed.delete(appId);
    }
  }
}
