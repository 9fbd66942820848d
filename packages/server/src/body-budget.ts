/**
 * Bytes of HTTP request bodies the server holds while receiving them, across all requests: a
 * crowd of large uploads is refused (503) rather than let grow the process without bound.
 *
 * @example
 * if (!bodies.take(chunk.length)) return refuse();
 * // …once the request is answered: bodies.release(received)
 */
export class BodyBudget {
  private held = 0;

  constructor(readonly limit: number) {}

  /** Reserves `bytes`; false (reserving nothing) when that would pass the limit. */
  take(bytes: number): boolean {
    if (this.held + bytes > this.limit) return false;
    this.held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.held -= bytes;
  }
}
