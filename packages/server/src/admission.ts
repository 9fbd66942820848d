import type { ResolvedLimits } from "./limits.js";

/** Counts of one IP address's connections. */
interface Visitor {
  connections: number;
  /** Connections that have not been welcomed yet. */
  handshakes: number;
}

/**
 * Who may open a WebSocket: at most `connections` in all, `connectionsPerIp` from one address,
 * and `handshakesPerIp` from one address still greeting (a flood of sockets that never say
 * `hello` ties up nothing but their own address's share). Checked at the HTTP upgrade, before
 * any WebSocket state exists.
 *
 * @example
 * const admission = new Admission({ connections: 10_000, connectionsPerIp: 100, handshakesPerIp: 20 });
 * const address = request.socket.remoteAddress ?? "unknown";
 * const refusal = admission.admit(address);
 * if (refusal) return request.socket.end(`HTTP/1.1 503 Service Unavailable\r\n\r\nNo more connections: ${refusal}.`);
 * // …later: admission.welcomed(address) at its hello; admission.release(address, wasWelcomed) when it closes
 */
export class Admission {
  private readonly visitors = new Map<string, Visitor>();
  private total = 0;

  constructor(private readonly limits: Pick<ResolvedLimits, "connections" | "connectionsPerIp" | "handshakesPerIp">) {}

  /** Counts a new connection from `ip`, or says why it is refused. */
  admit(ip: string): string | undefined {
    const visitor = this.visitors.get(ip) ?? { connections: 0, handshakes: 0 };
    if (this.total >= this.limits.connections)
      return `the server holds its limit of ${this.limits.connections} connections`;
    if (visitor.connections >= this.limits.connectionsPerIp)
      return `this address holds its limit of ${this.limits.connectionsPerIp} connections`;
    if (visitor.handshakes >= this.limits.handshakesPerIp)
      return `this address has ${this.limits.handshakesPerIp} connections still saying hello`;
    visitor.connections++;
    visitor.handshakes++;
    this.total++;
    this.visitors.set(ip, visitor);
    return undefined;
  }

  /** A connection from `ip` finished its handshake. */
  welcomed(ip: string): void {
    const visitor = this.visitors.get(ip);
    if (visitor !== undefined) visitor.handshakes--;
  }

  /** A connection from `ip` closed; `wasWelcomed` says whether {@link welcomed} was called for it. */
  release(ip: string, wasWelcomed: boolean): void {
    const visitor = this.visitors.get(ip);
    if (visitor === undefined) return;
    this.total--;
    visitor.connections--;
    if (!wasWelcomed) visitor.handshakes--;
    if (visitor.connections === 0) this.visitors.delete(ip);
  }

  /** Open connections. */
  get size(): number {
    return this.total;
  }
}
