import "fake-indexeddb/auto";
import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { type ClientOptions, createClient, type TrellisClient } from "../create-client.js";
import { createMemoryStorage } from "../persistence/memory-storage.js";
import type { ClientStorage } from "../persistence/storage.js";
import { allOnline, FAST_RECONNECT, recorder, useServerProcess, waitFor } from "../testing/live-server.js";

// Live revocation against a real server with rules: a note shared with bob and then unshared
// leaves bob's subscriptions, memory and storage, whether bob was online or away meanwhile.

const schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }) },
    notes: { text: t.string({ fallback: "" }), ownerId: t.string({ fallback: "" }), sharedWith: t.refMany("users") },
  },
  rooms: { note: { userStatus: { line: t.number({ fallback: 0 }) } } },
});
type Client = TrellisClient<typeof schema>;

const RULES = {
  notes: {
    read: { or: [{ ownerId: "$user.id" }, { sharedWith: "$user.id" }] },
    create: { ownerId: "$user.id" },
    update: { ownerId: "$user.id" },
    delete: { ownerId: "$user.id" },
  },
  $rooms: { note: { join: { readable: "notes" } } },
};

const live = useServerProcess({ permissions: RULES });

function open(options: Partial<ClientOptions<typeof schema>>): Client {
  return live.track(createClient({ schema, reconnect: FAST_RECONNECT, ...options }));
}

let apps = 0;
const backends: { name: string; storage: () => ClientStorage | "indexeddb" }[] = [
  { name: "memory storage", storage: () => createMemoryStorage() },
  { name: "indexeddb", storage: () => "indexeddb" },
];

/** The ids of the notes a client holds, as a local query reads them. */
async function localNotes(client: Client): Promise<string[]> {
  return ((await client.database.notes.query({})).data ?? []).map((note) => note.id).sort();
}

describe.each(backends)("revoked access, with $name", (backend) => {
  it("removes a note from bob's subscription, memory and storage the moment alice unshares it", async () => {
    const appId = `revoke-live-${++apps}`;
    const storage = backend.storage();
    const alice = open({ appId: `${appId}`, serverUrl: live.server.url, userId: "alice", storage: "memory" });
    const bob = open({ appId, serverUrl: live.server.url, userId: "bob", storage });
    const shared = (await alice.database.notes.create({ text: "for bob", ownerId: "alice", sharedWith: ["bob"] }))
      .data!;
    const own = (await bob.database.notes.create({ text: "bob's", ownerId: "bob" })).data!;
    const calls = recorder<readonly { text: string }[]>();
    bob.database.notes.subscribe({ fields: { text: true }, orderBy: ["text", "asc"] }, calls.callback);
    await waitFor(() => calls.last?.data?.length === 2, "bob sees both notes");
    await allOnline([alice, bob]);

    await alice.database.notes.update({ id: shared.id, fields: { sharedWith: [] } });
    await waitFor(() => calls.last?.data?.length === 1, "the unshared note leaves bob's subscription");
    expect(calls.last?.data).toEqual([{ text: "bob's" }]);
    expect(await localNotes(bob)).toEqual([own.id]);

    // After a reload, offline, the note is not in bob's storage either.
    await bob.close();
    const reloaded = open({ appId, userId: "bob", storage });
    expect(await localNotes(reloaded)).toEqual([own.id]);
  });

  it("drops what bob lost access to while he was offline, when he comes back", async () => {
    const appId = `revoke-offline-${++apps}`;
    const storage = backend.storage();
    const alice = open({ appId, serverUrl: live.server.url, userId: "alice", storage: "memory" });
    const bob = open({ appId, serverUrl: live.server.url, userId: "bob", storage });
    const shared = (await alice.database.notes.create({ text: "for bob", ownerId: "alice", sharedWith: ["bob"] }))
      .data!;
    const calls = recorder<readonly { id: string }[]>();
    bob.database.notes.subscribe({}, calls.callback);
    await waitFor(() => calls.last?.data?.length === 1, "bob sees the shared note");

    bob.disconnect();
    await alice.database.notes.update({ id: shared.id, fields: { sharedWith: [], text: "no longer for bob" } });
    await allOnline([alice]);
    expect(await localNotes(bob)).toEqual([shared.id]);
    bob.connect();
    await waitFor(() => calls.last?.data?.length === 0, "the note leaves bob's subscription on resync");
    await allOnline([bob]);
    expect(await localNotes(bob)).toEqual([]);

    await bob.close();
    const reloaded = open({ appId, userId: "bob", storage });
    expect(await localNotes(reloaded)).toEqual([]);
  });

  it("brings a note back whole when it is shared again", async () => {
    const appId = `revoke-again-${++apps}`;
    const alice = open({ appId, serverUrl: live.server.url, userId: "alice", storage: "memory" });
    const bob = open({ appId, serverUrl: live.server.url, userId: "bob", storage: backend.storage() });
    const shared = (await alice.database.notes.create({ text: "v1", ownerId: "alice", sharedWith: ["bob"] })).data!;
    const calls = recorder<readonly { text: string }[]>();
    bob.database.notes.subscribe({ fields: { text: true } }, calls.callback);
    await waitFor(() => calls.last?.data?.length === 1, "bob sees the note");
    await alice.database.notes.update({ id: shared.id, fields: { sharedWith: [] } });
    await waitFor(() => calls.last?.data?.length === 0, "the note leaves");
    await alice.database.notes.update({ id: shared.id, fields: { text: "v2, while bob could not see it" } });
    await alice.database.notes.update({ id: shared.id, fields: { sharedWith: ["bob"] } });
    await waitFor(
      () => calls.last?.data?.[0]?.text === "v2, while bob could not see it",
      "the note comes back as it is now",
    );
  });
});

describe("revoked access in tabs sharing sync", () => {
  it("removes the note from the follower tab's subscription too", async () => {
    const appId = `revoke-tabs-${++apps}`;
    const alice = open({ appId, serverUrl: live.server.url, userId: "alice", storage: "memory" });
    const leader = open({ appId, serverUrl: live.server.url, userId: "bob", storage: "indexeddb" });
    await allOnline([leader]);
    const follower = open({ appId, serverUrl: live.server.url, userId: "bob", storage: "indexeddb" });
    await waitFor(() => follower.connection.state === "online", "the follower tab mirrors the leader's connection");
    const shared = (await alice.database.notes.create({ text: "for bob", ownerId: "alice", sharedWith: ["bob"] }))
      .data!;
    const calls = recorder<readonly { text: string }[]>();
    follower.database.notes.subscribe({ fields: { text: true } }, calls.callback);
    await waitFor(() => calls.last?.data?.length === 1, "the follower tab sees the shared note");
    await alice.database.notes.update({ id: shared.id, fields: { sharedWith: [] } });
    await waitFor(() => calls.last?.data?.length === 0, "the note leaves the follower tab's subscription");
    await waitFor(async () => (await localNotes(leader)).length === 0, "the leader tab dropped it too");
  });
});

describe("revoked access in a document's room", () => {
  it("removes bob from the note's room: alice sees him leave, bob's room reports UNAUTHORIZED and forgets the others", async () => {
    const appId = `revoke-room-${++apps}`;
    const alice = open({ appId, serverUrl: live.server.url, userId: "alice", storage: "memory" });
    const bob = open({ appId, serverUrl: live.server.url, userId: "bob", storage: "memory" });
    const shared = (await alice.database.notes.create({ text: "for bob", ownerId: "alice", sharedWith: ["bob"] }))
      .data!;
    await allOnline([alice, bob]);
    const aliceRoom = alice.rooms.note(shared.id);
    await aliceRoom.setUserStatus("line", 3);
    const bobRoom = bob.rooms.note(shared.id);
    const errors: string[] = [];
    bobRoom.onError((error) => errors.push(error.code));
    await waitFor(
      () => Object.keys(aliceRoom.getUserStatuses()).includes("bob") && bobRoom.getUserStatuses().alice?.line === 3,
      "both in the room",
    );

    await alice.database.notes.update({ id: shared.id, fields: { sharedWith: [] } });
    await waitFor(() => !Object.keys(aliceRoom.getUserStatuses()).includes("bob"), "alice sees bob leave");
    await waitFor(() => bobRoom.getError()?.code === "UNAUTHORIZED", "bob's room reports why");
    expect(Object.keys(bobRoom.getUserStatuses())).toEqual(["bob"]);
    expect(errors).toEqual(["UNAUTHORIZED"]);
  });
});
