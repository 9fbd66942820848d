import { type ReadonlySignal, signal } from "@preact/signals-core";
import type { DatabaseError } from "@trellis/core";

/**
 * What went wrong with sync, for the user: the latest error is `connection.lastError` (until the
 * next welcome), and each distinct message is warned about once, so a server refusing every
 * reconnect does not flood the console.
 *
 * @example
 * const errors = new SyncErrors();
 * errors.report(new DatabaseError("NETWORK", "The server is unreachable."));
 * errors.lastError.value; // that error
 */
export class SyncErrors {
  private readonly latest = signal<DatabaseError | undefined>(undefined);
  /** The last error reported since the last welcome. */
  readonly lastError: ReadonlySignal<DatabaseError | undefined> = this.latest;
  /** Messages already warned about. */
  private readonly warned = new Set<string>();

  report(error: DatabaseError): void {
    this.latest.value = error;
    if (this.warned.has(error.message)) return;
    this.warned.add(error.message);
    console.warn(`Trellis sync: ${error.message}`);
  }

  /** A connection was welcomed: earlier errors no longer hold. */
  clear(): void {
    this.latest.value = undefined;
  }
}
