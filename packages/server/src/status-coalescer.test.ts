import type { ServerMessage } from "@trellis/core";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { StatusCoalescer } from "./status-coalescer.js";

const room = { roomType: "editor", roomId: "doc" };
const cursor = (userId: string, x: number): ServerMessage => ({ type: "userStatus", ...room, userId, status: { cursor: { x, y: 0 } } });

let backlog = 0;
let delivered: ServerMessage[];
let coalescer: StatusCoalescer;
beforeEach(() => {
  vi.useFakeTimers();
  backlog = 0;
  delivered = [];
  coalescer = new StatusCoalescer(() => backlog, (message) => delivered.push(message));
});
afterEach(() => {
  coalescer.stop();
  vi.useRealTimers();
});

it("leaves every message to be sent at once while the connection keeps up", () => {
  expect(coalescer.offer(cursor("ada", 1))).toBe(false);
  expect(coalescer.offer({ type: "roomEvent", ...room, event: "like", data: 1, userId: "ada", hlc: "00000000001-s" })).toBe(false);
});

it("sends a slow connection only the latest status per user once its backlog drains, in the order of those latest updates", () => {
  backlog = 1024 * 1024;
  for (let x = 0; x < 100; x++) expect(coalescer.offer(cursor("ada", x))).toBe(true);
  expect(coalescer.offer(cursor("bob", 7))).toBe(true);
  // Events are never held.
  expect(coalescer.offer({ type: "roomEvent", ...room, event: "like", data: 1, userId: "ada", hlc: "00000000001-s" })).toBe(false);
  vi.advanceTimersByTime(100);
  expect(delivered).toEqual([]);
  backlog = 0;
  // Held statuses go first: a new one waits with them rather than overtaking.
  expect(coalescer.offer(cursor("ada", 500))).toBe(true);
  vi.advanceTimersByTime(20);
  expect(delivered).toEqual([cursor("bob", 7), cursor("ada", 500)]);
  expect(coalescer.offer(cursor("ada", 501))).toBe(false);
});

it("keeps a user's leave (status null) as its latest status", () => {
  backlog = 1024 * 1024;
  coalescer.offer(cursor("ada", 1));
  coalescer.offer({ type: "userStatus", ...room, userId: "ada", status: null });
  backlog = 0;
  vi.advanceTimersByTime(20);
  expect(delivered).toEqual([{ type: "userStatus", ...room, userId: "ada", status: null }]);
});

it("drops statuses held for a room whose whole state is sent, and everything on stop", () => {
  backlog = 1024 * 1024;
  coalescer.offer(cursor("ada", 1));
  coalescer.offer({ type: "userStatus", roomType: "editor", roomId: "other", userId: "bob", status: {} });
  expect(coalescer.offer({ type: "roomState", ...room, roomStatus: {}, users: { ada: { cursor: { x: 2, y: 0 } } } })).toBe(false);
  backlog = 0;
  vi.advanceTimersByTime(20);
  expect(delivered).toEqual([{ type: "userStatus", roomType: "editor", roomId: "other", userId: "bob", status: {} }]);
  backlog = 1024 * 1024;
  coalescer.offer(cursor("ada", 3));
  coalescer.stop();
  backlog = 0;
  vi.advanceTimersByTime(100);
  expect(delivered).toHaveLength(1);
});
