import "fake-indexeddb/auto";
import { createSchema, t } from "@trellis/core";
import { describe, expect, it, vi } from "vitest";
import { type ClientOptions, createClient, type TrellisClient } from "../create-client.js";
import { allOnline, FAST_RECONNECT, recorder, useServerProcess, waitFor } from "../testing/live-server.js";
import type { WriteError } from "./refused-writes.js";

// Writes the server's rules refuse are rolled back on the writer: only the refused change is
// undone, later writes still go, subscriptions see the undo once, and onWriteError hears it.

const schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }) },
    notes: {
      text: t.string({ fallback: "" }),
      status: t.string({ fallback: "draft" }),
      ownerId: t.string({ fallback: "" }),
      sharedWith: t.refMany("users"),
    },
  },
});
type Client = TrellisClient<typeof schema>;

const RULES = {
  users: { read: true, create: true },
  notes: {
    read: { or: [{ ownerId: "$user.id" }, { sharedWith: "$user.id" }] },
    create: { ownerId: "$user.id" },
    // Owners may edit a note, but not archive it (the after state is checked too).
    update: { ownerId: "$user.id", status: { notEquals: "archived" } },
    delete: { ownerId: "$user.id" },
  },
};

const live = useServerProcess({ permissions: RULES });

let apps = 0;
function open(appId: string, userId: string, options: Partial<ClientOptions<typeof schema>> = {}): Client {
  const client = createClient({
    schema,
    appId,
    serverUrl: live.server.url,
    userId,
    reconnect: FAST_RECONNECT,
    storage: "memory",
    ...options,
  });
  return live.track(client);
}

function writeErrors(client: Client): WriteError[] {
  const heard: WriteError[] = [];
  client.onWriteError((change) => heard.push(change));
  return heard;
}

/** What the server holds of the app's notes, read by a fresh client of `userId`. */
async function serverNotes(appId: string, userId: string): Promise<Record<string, { text: string; status: string }>> {
  const reader = open(appId, userId);
  const calls = recorder<readonly { id: string; text: string; status: string }[]>();
  reader.database.notes.subscribe({ fields: { id: true, text: true, status: true } }, calls.callback);
  await waitFor(() => calls.last?.loading === false, "the reader's query is answered");
  await allOnline([reader]);
  return Object.fromEntries((calls.last?.data ?? []).map(({ id, text, status }) => [id, { text, status }]));
}

describe("refused writes", () => {
  it("makes a refused create disappear, reports it, and lets the writes after it go", async () => {
    const appId = `refused-create-${++apps}`;
    const bob = open(appId, "bob");
    const heard = writeErrors(bob);
    const calls = recorder<readonly { text: string }[]>();
    bob.database.notes.subscribe({ fields: { text: true }, orderBy: ["text", "asc"] }, calls.callback);
    const forged = await bob.database.notes.create({ text: "forged", status: "draft", ownerId: "alice" });
    const fine = await bob.database.notes.create({ text: "mine", status: "draft", ownerId: "bob" });
    expect(forged.error).toBeUndefined(); // optimistic: the server decides later
    await waitFor(() => heard.length === 1, "the refusal is heard");
    expect(heard[0]).toMatchObject({
      collection: "notes",
      id: forged.data!.id,
      operation: "create",
      fields: ["ownerId", "status", "text"],
    });
    expect(heard[0]!.error.code).toBe("UNAUTHORIZED");
    expect(bob.connection.lastError?.code).toBe("UNAUTHORIZED");
    await waitFor(() => calls.last?.data?.length === 1, "the refused create leaves bob's subscription");
    expect(calls.last?.data).toEqual([{ text: "mine" }]);
    expect(Object.keys(await serverNotes(appId, "bob"))).toEqual([fine.data!.id]);
  });

  it("undoes only the refused update: fields written after it keep their values, on the writer and the server", async () => {
    const appId = `refused-update-${++apps}`;
    const alice = open(appId, "alice");
    const heard = writeErrors(alice);
    const note = (await alice.database.notes.create({ text: "v1", status: "draft", ownerId: "alice" })).data!;
    await allOnline([alice]);
    const calls = recorder<readonly { text: string; status: string }[]>();
    alice.database.notes.subscribe({ fields: { text: true, status: true } }, calls.callback);
    await waitFor(() => calls.last?.data?.length === 1, "alice sees her note");
    // Archiving is refused; the edit made right after it (same frame) is allowed.
    await alice.database.notes.update({ id: note.id, fields: { status: "archived" } });
    await alice.database.notes.update({ id: note.id, fields: { text: "v2" } });
    expect(calls.last?.data).toEqual([{ text: "v2", status: "archived" }]);
    const before = calls.calls.length;
    await waitFor(() => calls.last?.data?.[0]?.status === "draft", "the status rolls back");
    await allOnline([alice]);
    expect(calls.last?.data).toEqual([{ text: "v2", status: "draft" }]);
    // The undo is one change: the note never left the result on the way.
    expect(calls.calls.slice(before).map((call) => call.data?.length)).toEqual([1]);
    expect(heard.map(({ operation, fields }) => ({ operation, fields }))).toEqual([
      { operation: "update", fields: ["status"] },
    ]);
    expect(await serverNotes(appId, "alice")).toEqual({ [note.id]: { text: "v2", status: "draft" } });
  });

  it("brings a refused delete back as the server holds it", async () => {
    const appId = `refused-delete-${++apps}`;
    const alice = open(appId, "alice");
    const bob = open(appId, "bob");
    const heard = writeErrors(bob);
    const note = (
      await alice.database.notes.create({ text: "shared", status: "draft", ownerId: "alice", sharedWith: ["bob"] })
    ).data!;
    const calls = recorder<readonly { text: string }[]>();
    bob.database.notes.subscribe({ fields: { text: true } }, calls.callback);
    await waitFor(() => calls.last?.data?.length === 1, "bob sees the shared note");
    await alice.database.notes.update({ id: note.id, fields: { text: "edited by alice" } });
    await bob.database.notes.delete(note.id);
    await waitFor(() => heard.length === 1, "bob hears the refusal");
    expect(heard[0]).toMatchObject({ operation: "delete", fields: [] });
    await waitFor(() => calls.last?.data?.[0]?.text === "edited by alice", "the note comes back, as the server has it");
    expect((await alice.database.notes.query({})).data?.map((each) => each.id)).toEqual([note.id]);
  });

  it("makes no partial document of a later write when the server deleted the document meanwhile", async () => {
    const appId = `refused-deleted-${++apps}`;
    const laptop = open(appId, "bob");
    const phone = open(appId, "bob");
    const heard = writeErrors(laptop);
    const calls = recorder<readonly { text: string }[]>();
    laptop.database.notes.subscribe({ fields: { text: true } }, calls.callback);
    const note = (await laptop.database.notes.create({ text: "v1", status: "draft", ownerId: "bob" })).data!;
    await allOnline([laptop]);
    const onPhone = recorder<readonly { text: string }[]>();
    phone.database.notes.subscribe({ fields: { text: true } }, onPhone.callback);
    await waitFor(() => onPhone.last?.data?.length === 1, "the phone holds the note");

    // The laptop goes offline; the phone deletes the note.
    laptop.disconnect();
    await phone.database.notes.delete(note.id);
    await allOnline([phone]);
    // Offline, the laptop edits it in a batch the server refuses whole (a forged note in it), then again.
    await laptop.database.batch.execute([
      laptop.database.batch.notes.update({ id: note.id, fields: { text: "v2" } }),
      laptop.database.batch.notes.create({ text: "forged", status: "draft", ownerId: "alice" }),
    ]);
    await laptop.database.notes.update({ id: note.id, fields: { text: "v3" } });
    // The rollback's request for the server's copy answers late: the later edit is stored
    // meanwhile (a no-op on a deleted note) and the server's tombstone arrives during the wait.
    const realFetch = globalThis.fetch;
    const slowQueries = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      if (String(input).endsWith("/v1/query")) await new Promise((resolve) => setTimeout(resolve, 300));
      return realFetch(input, init);
    });
    laptop.connect();
    await waitFor(() => heard.length === 2, "both changes of the refused batch are heard");
    slowQueries.mockRestore();
    await allOnline([laptop]);
    await waitFor(
      () => calls.last?.data?.length === 0,
      () => `nothing is left of the deleted note, got ${JSON.stringify(calls.last?.data)}`,
    );
    expect(onPhone.last?.data).toEqual([]);
  });

  it("rolls back in storage too: after a reload the refused write is not there", async () => {
    const appId = `refused-stored-${++apps}`;
    const bob = open(appId, "bob", { storage: "indexeddb" });
    const heard = writeErrors(bob);
    const forged = (await bob.database.notes.create({ text: "forged", status: "draft", ownerId: "alice" })).data!;
    const mine = (await bob.database.notes.create({ text: "mine", status: "draft", ownerId: "bob" })).data!;
    await waitFor(() => heard.length === 1, "the refusal is heard");
    await waitFor(
      async () => ((await bob.database.notes.query({})).data ?? []).length === 1,
      "the forged note is gone",
    );
    await allOnline([bob]);
    await bob.close();
    const reloaded = createClient({ schema, appId, userId: "bob", storage: "indexeddb" });
    live.track(reloaded);
    expect(((await reloaded.database.notes.query({})).data ?? []).map((note) => note.id)).toEqual([mine.id]);
    expect(forged.id).not.toBe(mine.id);
  });
});
