/**
 * Round trips between two processes over loopback: a plain `ws` echo (the floor of any
 * WebSocket protocol on this machine) and the sync protocol's `ping`/`pong` (the same plus
 * Trellis's frame parsing and validation).
 */
import WebSocket from "ws";
import { percentile } from "../stats.js";
import { openProtocolSocket } from "./protocol-socket.js";

export interface RoundTripResult {
  readonly roundTrips: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

/** Times `count` sequential round trips of `exchange` after a tenth as many untimed ones. */
async function timeRoundTrips(count: number, exchange: () => Promise<unknown>): Promise<RoundTripResult> {
  for (let i = 0; i < Math.max(20, count / 10); i++) await exchange();
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await exchange();
    times.push((performance.now() - start) * 1000);
  }
  return { roundTrips: count, p50Us: percentile(times, 50), p99Us: percentile(times, 99) };
}

/** A small text frame to the plain `ws` echo server and back. */
export async function wsEchoRoundTrip(echoPort: number, count: number): Promise<RoundTripResult> {
  const ws = new WebSocket(`ws://127.0.0.1:${echoPort}`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  try {
    return await timeRoundTrips(
      count,
      () =>
        new Promise<void>((resolve) => {
          ws.once("message", () => resolve());
          ws.send('{"type":"ping"}');
        }),
    );
  } finally {
    ws.close();
  }
}

/** `ping` → `pong` on a welcomed sync connection. */
export async function trellisPingRoundTrip(serverUrl: string, count: number): Promise<RoundTripResult> {
  const socket = await openProtocolSocket(serverUrl, "bench-ping", "pinger");
  try {
    return await timeRoundTrips(count, () => {
      const pong = socket.next("pong");
      socket.send({ type: "ping" });
      return pong;
    });
  } finally {
    await socket.close();
  }
}
