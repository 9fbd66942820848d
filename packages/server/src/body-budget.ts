/**
 * Bytes of HTTP request bodies the server holds while receiving them, across all requests: a
 * crowd of large uploads is refused (503) rather than let grow the process without bound.
 *
 * @example
 * const bodies = new BodyBudget(64 * 1024 * 1024); // one per server, shared by every request
 * let received = 0;
 * request.on("data", (chunk: Buffer) => {
 *   if (!bodies.take(chunk.length)) return request.destroy(); // refused: too many bodies in flight
 *   received += chunk.length;
 * });
 * request.on("close", () => bodies.release(received));
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
