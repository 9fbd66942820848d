import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { Log } from "./log.js";

/** How often the databases written since the last round are checkpointed. */
const INTERVAL_MS = 1_000;

/** The worker: a passive checkpoint of each file it is sent, on a connection opened for it. */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.sqlite);
parentPort.on("message", (file) => {
  try {
    const db = new Database(file, { fileMustExist: true });
    try {
      db.pragma("wal_checkpoint(PASSIVE)");
    } finally {
      db.close();
    }
    parentPort.postMessage({ file });
  } catch (error) {
    parentPort.postMessage({ file, error: String((error && error.message) || error) });
  }
});
`;

/**
 * Moves SQLite's checkpoints (copying the write-ahead log into the database file and syncing it)
 * off the event loop: databases turn their automatic checkpoints off, and a worker thread
 * checkpoints each database written in the last second. A checkpoint after a large commit (100 MB
 * of log) takes hundreds of milliseconds; in the server's thread every app would wait for it.
 * What is left when an app closes is checkpointed as its connection closes.
 *
 * @example
 * // Undefined where no worker can run: databases then checkpoint themselves.
 * const checkpointer = Checkpointer.start(createLog());
 * checkpointer?.written("data/my-app.sqlite"); // after each commit to that database
 */
export class Checkpointer {
  private readonly dirty = new Set<string>();
  private readonly timer: ReturnType<typeof setInterval>;
  private isBroken = false;

  private constructor(
    private readonly worker: Worker,
    private readonly log: Log,
  ) {
    worker.on("message", ({ file, error }: { file: string; error?: string }) => {
      if (error !== undefined)
        log("warn", "A checkpoint failed; it is tried again after the next write", { file, error });
    });
    worker.on("error", (error) => {
      this.isBroken = true;
      clearInterval(this.timer);
      log("error", "The checkpoint worker failed; apps opened from now on checkpoint in the server's thread", {
        error: error.message,
      });
    });
    worker.unref();
    this.timer = setInterval(() => this.round(), INTERVAL_MS);
    this.timer.unref();
  }

  /** A checkpointer, or undefined where no worker thread can be started. */
  static start(log: Log): Checkpointer | undefined {
    try {
      const sqlite = createRequire(import.meta.url).resolve("better-sqlite3");
      return new Checkpointer(new Worker(WORKER, { eval: true, workerData: { sqlite } }), log);
    } catch (error) {
      log("warn", "No checkpoint worker: databases checkpoint in the server's thread", { error: String(error) });
      return undefined;
    }
  }

  /** Whether databases may leave their checkpoints to it (false once its worker failed). */
  get isRunning(): boolean {
    return !this.isBroken;
  }

  /** `file` was committed to: it is checkpointed in the next round. */
  written(file: string): void {
    this.dirty.add(file);
  }

  /** `file` is gone (its app was deleted): it is not checkpointed any more. */
  forget(file: string): void {
    this.dirty.delete(file);
  }

  /** Stops checkpointing; open databases checkpoint what is left as they close. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.worker.terminate();
  }

  private round(): void {
    if (this.isBroken) return;
    for (const file of this.dirty) this.worker.postMessage(file);
    this.dirty.clear();
  }
}
