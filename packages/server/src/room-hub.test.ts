import { decodeHlc, type ServerMessage } from "@trellis/core";
import { beforeEach, describe, expect, it } from "vitest";
import { MAX_ROOM_PAYLOAD_BYTES, MAX_ROOMS_PER_CONNECTION, RoomHub } from "./rooms.js";
import { FakePeer } from "./testing/fake-peer.js";
import { writer } from "./testing/raw-socket.js";

const doc = { roomType: "documentEditor", roomId: "doc-1" };
const other = { roomType: "documentEditor", roomId: "doc-2" };
let hub: RoomHub;

beforeEach(() => {
  hub = new RoomHub(writer("server"));
});

function peer(userId: string | null, clientId = "c"): FakePeer {
  return new FakePeer({ userId, userKey: userId ?? `anon:${clientId}` });
}

function join(who: FakePeer, status: Record<string, unknown> = {}, address = doc): ServerMessage {
  expect(hub.join(who, who.member, address, status)).toBeUndefined();
  const [state, ...rest] = who.take();
  expect(rest).toEqual([]);
  expect(state?.type).toBe("roomState");
  return state!;
}

describe("RoomHub", () => {
  it("sends the whole state to a joiner and the joiner's status to the others", () => {
    const ada = peer("ada");
    const bob = peer("bob");
    expect(join(ada, { cursor: 1 })).toEqual({
      type: "roomState",
      ...doc,
      roomStatus: {},
      users: { ada: { cursor: 1 } },
    });
    expect(hub.setRoomStatus(ada, doc, { title: "Draft" })).toBeUndefined();
    ada.take();
    expect(join(bob, { cursor: 2 })).toEqual({
      type: "roomState",
      ...doc,
      roomStatus: { title: "Draft" },
      users: { ada: { cursor: 1 }, bob: { cursor: 2 } },
    });
    expect(ada.take()).toEqual([{ type: "userStatus", ...doc, userId: "bob", status: { cursor: 2 } }]);
  });

  it("joining twice is harmless: the state again, one membership", () => {
    const ada = peer("ada");
    const bob = peer("bob");
    join(ada);
    join(bob);
    ada.take();
    expect(join(bob, { typing: true })).toMatchObject({ users: { ada: {}, bob: { typing: true } } });
    expect(ada.take()).toEqual([{ type: "userStatus", ...doc, userId: "bob", status: { typing: true } }]);
    expect(hub.leave(bob, doc)).toBeUndefined();
    expect(ada.take()).toEqual([{ type: "userStatus", ...doc, userId: "bob", status: null }]);
    expect(hub.leave(bob, doc)?.code).toBe("VALIDATION");
  });

  it("sends events to the other members in order, stamped with increasing HLCs and the sender's user id", () => {
    const ada = peer("ada");
    const bob = peer("bob");
    const anon = peer(null, "c9");
    const elsewhere = peer("eve");
    join(ada);
    join(bob);
    join(anon);
    join(elsewhere, {}, other);
    for (const each of [ada, bob, anon, elsewhere]) each.take();
    for (let i = 0; i < 50; i++) expect(hub.emit(ada, doc, "like", { i })).toBeUndefined();
    expect(hub.emit(anon, doc, "wave", null)).toBeUndefined();
    expect(ada.take().map((each) => each.type === "roomEvent" && each.userId)).toEqual([null]);
    const received = bob.take();
    expect(received).toHaveLength(51);
    expect(received.slice(0, 50).map((each) => each.type === "roomEvent" && (each.data as { i: number }).i)).toEqual([
      ...Array(50).keys(),
    ]);
    expect(received.every((each) => each.type === "roomEvent" && each.roomId === "doc-1")).toBe(true);
    expect(received[0]).toMatchObject({ userId: "ada", event: "like" });
    const ticks = received.map((each) => (each.type === "roomEvent" ? decodeHlc(each.hlc).data!.ticks : 0));
    expect([...ticks].sort((a, b) => a - b)).toEqual(ticks);
    expect(anon.take()).toHaveLength(50);
    expect(elsewhere.take()).toEqual([]);
  });

  it("merges user status per user; it goes with the user's last connection", () => {
    const tab1 = peer("ada", "t1");
    const tab2 = peer("ada", "t2");
    const bob = peer("bob");
    join(bob);
    join(tab1, { cursor: 1 });
    expect(join(tab2, { typing: false })).toMatchObject({ users: { ada: { cursor: 1, typing: false } } });
    bob.take();
    tab1.take();
    expect(hub.setUserStatus(tab1, doc, { cursor: null, name: "Ada" })).toBeUndefined();
    expect(bob.take()).toEqual([{ type: "userStatus", ...doc, userId: "ada", status: { typing: false, name: "Ada" } }]);
    expect(tab2.take()).toHaveLength(1);
    expect(tab1.take()).toEqual([]);
    hub.leaveAll(tab1);
    expect(bob.take()).toEqual([]); // tab2 is still there
    hub.leaveAll(tab2);
    expect(bob.take()).toEqual([{ type: "userStatus", ...doc, userId: "ada", status: null }]);
  });

  it("shares room status with every member, the sender included, and drops it with the last member", () => {
    const ada = peer("ada");
    const bob = peer("bob");
    join(ada);
    join(bob);
    ada.take();
    expect(hub.setRoomStatus(bob, doc, { title: "A", pinned: true })).toBeUndefined();
    expect(hub.setRoomStatus(ada, doc, { title: "B", pinned: null })).toBeUndefined();
    const expected = [
      { type: "roomStatus", ...doc, status: { title: "A", pinned: true } },
      { type: "roomStatus", ...doc, status: { title: "B", pinned: null } },
    ];
    expect(ada.take()).toEqual(expected);
    expect(bob.take()).toEqual(expected);
    expect(join(peer("cy"))).toMatchObject({ roomStatus: { title: "B" } });
    hub.leaveAll(ada);
    hub.leaveAll(bob);
    expect(hub.size).toBe(1);
    hub.leaveAll(peer("nobody"));
    const again = peer("dee");
    hub.leave(again, doc);
    expect(join(peer("eve"), {}, other)).toMatchObject({ roomStatus: {} });
  });

  it("drops the room when its last member goes", () => {
    const ada = peer("ada");
    join(ada);
    hub.setRoomStatus(ada, doc, { title: "A" });
    hub.leaveAll(ada);
    expect(hub.size).toBe(0);
    expect(join(peer("bob"))).toEqual({ type: "roomState", ...doc, roomStatus: {}, users: { bob: {} } });
  });

  it("refuses messages to rooms not joined, with the room in the details", () => {
    const ada = peer("ada");
    join(ada);
    for (const error of [
      hub.emit(ada, other, "x", 1),
      hub.setUserStatus(ada, other, {}),
      hub.setRoomStatus(ada, other, {}),
      hub.leave(ada, other),
    ]) {
      expect(error).toMatchObject({ code: "VALIDATION", details: { roomType: "documentEditor", roomId: "doc-2" } });
      expect(error!.message).toContain("has not joined");
    }
  });

  it("refuses payloads over 64 KiB and statuses over 64 keys, changing nothing", () => {
    const ada = peer("ada");
    const bob = peer("bob");
    join(ada);
    join(bob);
    ada.take();
    const big = "x".repeat(MAX_ROOM_PAYLOAD_BYTES);
    expect(hub.emit(ada, doc, "x", big)).toMatchObject({
      code: "VALIDATION",
      details: { roomId: "doc-1", maxBytes: MAX_ROOM_PAYLOAD_BYTES },
    });
    expect(hub.setUserStatus(ada, doc, { big })?.message).toContain("64");
    expect(hub.setRoomStatus(ada, doc, { big })?.code).toBe("VALIDATION");
    const half = "y".repeat(MAX_ROOM_PAYLOAD_BYTES / 2);
    expect(hub.setRoomStatus(ada, doc, { a: half })).toBeUndefined();
    expect(hub.setRoomStatus(ada, doc, { b: half })?.message).toContain("merged room status");
    const keys = (from: number) => Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${from + i}`, i]));
    expect(hub.setUserStatus(ada, doc, keys(0))).toBeUndefined();
    expect(hub.setUserStatus(ada, doc, keys(40))).toMatchObject({ code: "VALIDATION", details: { maxKeys: 64 } });
    expect(hub.join(ada, ada.member, doc, { big })?.code).toBe("VALIDATION");
    expect(hub.emit(ada, doc, "x", "small")).toBeUndefined();
    const got = bob.take();
    expect(got.map((each) => each.type)).toEqual(["roomStatus", "userStatus", "roomEvent"]);
  });

  it("limits the rooms of one connection", () => {
    const ada = peer("ada");
    for (let i = 0; i < MAX_ROOMS_PER_CONNECTION; i++)
      expect(hub.join(ada, ada.member, { roomType: "r", roomId: `${i}` }, {})).toBeUndefined();
    expect(hub.join(ada, ada.member, { roomType: "r", roomId: "one-more" }, {})?.message).toContain("at most");
    expect(hub.join(ada, ada.member, { roomType: "r", roomId: "0" }, {})).toBeUndefined(); // a re-join is fine
    hub.leaveAll(ada);
    expect(hub.size).toBe(0);
  });
});
