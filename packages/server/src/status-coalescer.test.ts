import type { ServerMessage } from "@trellis/core";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { StatusCoalescer } from "./status-coalescer.js";

const INTERVAL_MS = 50;
const room = { roomType: "editor", roomId: "doc" };
const cursor = (userId: string, x: number): ServerMessage => ({
  type: "userStatus",
  ...room,
  userId,
  status: { cursor: { x, y: 0 } },
});
const event: ServerMessage = {
  type: "roomEvent",
  ...room,
  event: "like",
  data: 1,
  userId: "ada",
  hlc: "00000000001-s",
};

let backlog = 0;
let delivered: ServerMessage[];
let coalescer: StatusCoalescer;
beforeEach(() => {
  vi.useFakeTimers();
  backlog = 0;
  delivered = [];
  coalescer = new StatusCoalescer(
    () => backlog,
    (message) => delivered.push(message),
    INTERVAL_MS,
  );
});
afterEach(() => {
  coalescer.stop();
  vi.useRealTimers();
});

it("sends a status at once when none went during the interval, and events always at once", () => {
  expect(coalescer.offer(cursor("ada", 1))).toBe(false);
  expect(coalescer.offer(event)).toBe(false);
  vi.advanceTimersByTime(INTERVAL_MS);
  expect(coalescer.offer(cursor("ada", 2))).toBe(false);
});

it("sends each user's latest status at most once per interval, in the order of those latest updates", () => {
  expect(coalescer.offer(cursor("ada", 0))).toBe(false);
  // A 60 Hz stream of cursors from two users within one interval.
  for (let x = 1; x <= 3; x++) {
    expect(coalescer.offer(cursor("ada", x))).toBe(true);
    expect(coalescer.offer(cursor("bob", x))).toBe(true);
  }
  expect(coalescer.offer(cursor("ada", 4))).toBe(true);
  expect(coalescer.offer(event)).toBe(false);
  vi.advanceTimersByTime(INTERVAL_MS - 1);
  expect(delivered).toEqual([]);
  vi.advanceTimersByTime(1);
  expect(delivered).toEqual([cursor("bob", 3), cursor("ada", 4)]);
  // The flush opened a new interval.
  expect(coalescer.offer(cursor("ada", 5))).toBe(true);
});

it("holds statuses while the socket has a backlog and sends the latest once it drains", () => {
  backlog = 1024 * 1024;
  for (let x = 0; x < 100; x++) expect(coalescer.offer(cursor("ada", x))).toBe(true);
  vi.advanceTimersByTime(500);
  expect(delivered).toEqual([]);
  backlog = 0;
  vi.advanceTimersByTime(20);
  expect(delivered).toEqual([cursor("ada", 99)]);
});

it("keeps a user's leave (status null) as its latest status", () => {
  coalescer.offer(cursor("ada", 1));
  coalescer.offer(cursor("ada", 2));
  coalescer.offer({ type: "userStatus", ...room, userId: "ada", status: null });
  vi.advanceTimersByTime(INTERVAL_MS);
  expect(delivered).toEqual([{ type: "userStatus", ...room, userId: "ada", status: null }]);
});

it("drops statuses held for a room whose whole state is sent, and everything on stop", () => {
  coalescer.offer(cursor("ada", 1));
  coalescer.offer(cursor("ada", 2));
  coalescer.offer({ type: "userStatus", roomType: "editor", roomId: "other", userId: "bob", status: {} });
  expect(
    coalescer.offer({ type: "roomState", ...room, roomStatus: {}, users: { ada: { cursor: { x: 2, y: 0 } } } }),
  ).toBe(false);
  vi.advanceTimersByTime(INTERVAL_MS);
  expect(delivered).toEqual([{ type: "userStatus", roomType: "editor", roomId: "other", userId: "bob", status: {} }]);
  coalescer.offer(cursor("ada", 3));
  coalescer.stop();
  vi.advanceTimersByTime(200);
  expect(delivered).toHaveLength(1);
});
