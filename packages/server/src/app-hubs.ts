import { type DatabaseResult, ok } from "@trellis/core";
import { AppHub } from "./app-hub.js";

/**
 * The apps a server serves, opened on first use: each app id has its own SQLite file under
 * `dataDir` and its own hub, so no request can reach another app's data.
 */
export class AppHubs {
  private readonly hubs = new Map<string, AppHub>();

  constructor(private readonly dataDir: string) {}

  /** The hub of an app, opening its database the first time; VALIDATION for a bad app id. */
  get(appId: string): DatabaseResult<AppHub> {
    const existing = this.hubs.get(appId);
    if (existing !== undefined) return ok(existing);
    const opened = AppHub.open(this.dataDir, appId);
    if (opened.data !== undefined) this.hubs.set(appId, opened.data);
    return opened;
  }

  get size(): number {
    return this.hubs.size;
  }

  /** Live connections across every app. */
  get connectionCount(): number {
    let count = 0;
    for (const hub of this.hubs.values()) count += hub.connectionCount;
    return count;
  }

  /** Commits what is queued and closes every database. */
  close(): void {
    for (const hub of this.hubs.values()) hub.close();
    this.hubs.clear();
  }
}
