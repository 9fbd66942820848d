import "fake-indexeddb/auto";
import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { type ClientOptions, createClient, type TrellisClient } from "../create-client.js";
import { FAST_RECONNECT, useServerProcess, waitFor } from "../testing/live-server.js";
import { createIndexedDbStorage } from "./indexeddb-storage.js";
import { createMemoryStorage } from "./memory-storage.js";
import type { ClientStorage } from "./storage.js";

// `client.storage.prune()` against a real server: what it deletes, what it keeps, and that a
// later run syncs what was deleted whole again instead of continuing from a stale cursor.

const schema = createSchema({
  entities: { notes: { text: t.string({ fallback: "" }) }, logs: { text: t.string({ fallback: "" }) } },
});
type Client = TrellisClient<typeof schema>;

const live = useServerProcess();

function client(
  appId: string,
  storage: ClientOptions<typeof schema>["storage"],
  options: Partial<ClientOptions<typeof schema>> = {},
): Client {
  return live.track(
    createClient({
      schema,
      appId,
      serverUrl: live.server.url,
      storage,
      userId: "ada",
      reconnect: FAST_RECONNECT,
      ...options,
    }),
  );
}

const texts = (rows: readonly { text: string }[] | undefined) => (rows ?? []).map((row) => row.text).sort();

async function stored(storage: ClientStorage, collection: string): Promise<string[]> {
  const documents = (await storage.readCollection(collection)).data?.documents ?? [];
  return documents.map((document) => String(document.triples.find((triple) => triple.field === "text")?.value)).sort();
}

describe("client.storage.prune", () => {
  it("deletes the synced documents of collections nobody follows, keeps followed ones and pending writes, and a later run syncs them whole", async () => {
    const appId = live.newApp("prune");
    const storage = createMemoryStorage();
    // cacheSize 0: logs leave memory once unused, so reading them again goes to storage.
    const first = client(appId, storage, { cacheSize: 0 });
    for (const text of ["l1", "l2", "l3"]) await first.database.logs.create({ text });
    for (const text of ["n1", "n2"]) await first.database.notes.create({ text });
    await waitFor(
      () => first.connection.state === "online" && first.connection.pending === 0,
      "the writes are acknowledged",
    );
    // A one-shot query syncs logs once, so a cursor past those writes is stored: prune must drop it.
    expect(texts((await first.database.logs.query({})).data)).toEqual(["l1", "l2", "l3"]);
    const followed = first.database.notes.subscribe({}, () => {});
    const storedCursors = async () => [...((await storage.readSyncState()).data?.cursors.keys() ?? [])];
    await waitFor(
      async () => (await storedCursors()).some((key) => key.includes('"notes"')),
      "the notes query's cursor is stored",
    );
    first.disconnect();
    await first.database.logs.create({ text: "offline" });

    const pruned = await first.storage.prune();
    expect(pruned).toEqual({ data: { collections: ["logs"], documents: 3 }, error: undefined });
    expect(await stored(storage, "logs")).toEqual(["offline"]);
    expect(await stored(storage, "notes")).toEqual(["n1", "n2"]);
    const cursors = await storedCursors();
    expect(cursors.some((key) => key.includes('"logs"'))).toBe(false);
    expect(cursors.some((key) => key.includes('"notes"'))).toBe(true);

    // This run forgot its cursor for logs too: reading logs again syncs them whole.
    first.connect();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(texts((await first.database.logs.query({})).data)).toEqual(["l1", "l2", "l3", "offline"]);
    followed.unsubscribe();
    await live.untrack(first);

    // The next run has one stored log and no cursor for logs: it syncs logs whole from the server.
    const second = client(appId, storage);
    expect(texts((await second.database.logs.query({})).data)).toEqual(["l1", "l2", "l3", "offline"]);
  });

  it("asks the leader tab, which keeps what any tab follows", async () => {
    const appId = live.newApp("prune-tabs");
    const leader = client(appId, "indexeddb");
    await leader.storage.ready;
    const follower = client(appId, "indexeddb");
    await follower.database.notes.create({ text: "n1" });
    await follower.database.logs.create({ text: "l1" });
    // Only the follower follows notes: the leader syncs it on the follower's behalf.
    let notes: readonly { text: string }[] | undefined;
    const followed = follower.database.notes.subscribe({}, (rows, _error, loading) => loading || (notes = rows));
    await waitFor(() => notes?.length === 1 && follower.connection.pending === 0, "the follower's note is synced");
    const pruned = await follower.storage.prune();
    expect(pruned).toEqual({ data: { collections: ["logs"], documents: 1 }, error: undefined });
    const database = createIndexedDbStorage({ name: `trellis-${appId}` });
    await database.open();
    expect(await stored(database, "logs")).toEqual([]);
    expect(await stored(database, "notes")).toEqual(["n1"]);
    await database.close();
    followed.unsubscribe();
  });

  it("deletes nothing without a server: a local-only client's documents exist nowhere else", async () => {
    const storage = createMemoryStorage();
    const local = live.track(createClient({ schema, storage }));
    await local.database.logs.create({ text: "only here" });
    expect(await local.storage.prune()).toEqual({ data: { collections: [], documents: 0 }, error: undefined });
    expect(await stored(storage, "logs")).toEqual(["only here"]);
  });
});
