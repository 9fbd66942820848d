import { createHash, timingSafeEqual } from "node:crypto";
import { TokenBucket } from "../token-bucket.js";

/** Failed admin sign-ins allowed per address: a burst, then this many a minute. */
const FAILURES_BURST = 10;
const FAILURES_PER_MINUTE = 10;

/** What a request's admin credentials are worth. */
export type AdminCheck = "admitted" | "refused" | "throttled";

/**
 * Checks the admin secret of admin requests (`authorization: Bearer <secret>`): compared in
 * constant time (digests of both, so neither length nor content leaks through timing), and each
 * address gets a few failures a minute before its requests are refused unchecked.
 *
 * @example
 * const gate = new AdminGate(process.env.TRELLIS_ADMIN_SECRET!);
 * const check = gate.check(request.headers.authorization, request.socket.remoteAddress ?? "unknown");
 * if (check !== "admitted") return fail("UNAUTHORIZED", `Admin request ${check}.`);
 */
export class AdminGate {
  private readonly digest: Buffer;
  private readonly failures = new Map<string, TokenBucket>();

  constructor(secret: string) {
    this.digest = digestOf(secret);
  }

  check(authorization: string | undefined, address: string): AdminCheck {
    const bucket = this.failures.get(address);
    if (bucket !== undefined && !bucket.hasToken()) return "throttled";
    const secret = /^Bearer (.+)$/.exec(authorization ?? "")?.[1];
    if (secret !== undefined && timingSafeEqual(digestOf(secret), this.digest)) return "admitted";
    let failures = bucket;
    if (failures === undefined) {
      if (this.failures.size > 10_000) this.failures.clear(); // many addresses failing: start over rather than grow
      this.failures.set(address, (failures = new TokenBucket((FAILURES_PER_MINUTE * 1000) / 60_000, FAILURES_BURST)));
    }
    failures.spend(1);
    return "refused";
  }
}

function digestOf(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
