import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { type ClientOptions, createClient, type TrellisClient } from "../create-client.js";
import { allOnline, FAST_RECONNECT, recorder, useServerProcess, waitFor } from "../testing/live-server.js";

// Permission rules of one app, set through the admin API of a real server: they replace the
// server's rules for that app only, and the app's clients follow them at once.

const schema = createSchema({
  entities: { notes: { text: t.string({ fallback: "" }), ownerId: t.string({ fallback: "" }) } },
});
type Client = TrellisClient<typeof schema>;

const SECRET = "an-admin-secret-for-app-rules";
const OWNER_ONLY = {
  notes: {
    read: { ownerId: "$user.id" },
    create: { ownerId: "$user.id" },
    update: { ownerId: "$user.id" },
    delete: { ownerId: "$user.id" },
  },
};
const READ_BY_ALL = { notes: { ...OWNER_ONLY.notes, read: true } };

const live = useServerProcess({ permissions: OWNER_ONLY, args: ["--admin-secret", SECRET] });

function open(options: Partial<ClientOptions<typeof schema>>): Client {
  return live.track(
    createClient({ schema, serverUrl: live.server.url, reconnect: FAST_RECONNECT, storage: "memory", ...options }),
  );
}

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${live.server.url}/v1/admin/apps${path}`, {
    method,
    headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

describe("an app's own permission rules", () => {
  it("replace the server's for that app, apply to its open connections at once, and go back on clear", async () => {
    const app = (await admin("POST", "", { name: "Notes" })).body.id as string;
    const other = (await admin("POST", "", { name: "Other" })).body.id as string;
    expect((await admin("GET", `/${app}/permissions`)).body).toEqual({ appId: app, source: "server", rules: null });

    const alice = open({ appId: app, userId: "alice" });
    const bob = open({ appId: app, userId: "bob" });
    await alice.database.notes.create({ text: "alice's", ownerId: "alice" });
    await bob.database.notes.create({ text: "bob's", ownerId: "bob" });
    const seen = recorder<readonly { text: string }[]>();
    bob.database.notes.subscribe({ fields: { text: true }, orderBy: ["text", "asc"] }, seen.callback);
    await allOnline([alice, bob]);
    expect(seen.last?.data).toEqual([{ text: "bob's" }]);

    // Everyone may read notes of this app now: bob's open subscription gains alice's note.
    const set = await admin("PUT", `/${app}/permissions`, READ_BY_ALL);
    expect(set).toEqual({ status: 200, body: { appId: app, source: "app", rules: READ_BY_ALL } });
    await waitFor(() => seen.last?.data?.length === 2, "bob sees alice's note under the app's rules");
    expect(seen.last?.data).toEqual([{ text: "alice's" }, { text: "bob's" }]);

    // Bad rules change nothing and say where they are wrong.
    const bad = await admin("PUT", `/${app}/permissions`, { notes: { read: { ownerId: { like: "x" } } } });
    expect(bad).toMatchObject({
      status: 400,
      body: { error: { code: "VALIDATION", details: { path: "notes.read.ownerId.like" } } },
    });
    expect((await admin("PUT", `/${app}/permissions`, "[1, 2]")).status).toBe(400);
    expect((await admin("GET", `/${app}/permissions`)).body.source).toBe("app");
    await alice.database.notes.create({ text: "alice's second", ownerId: "alice" });
    await waitFor(() => seen.last?.data?.length === 3, "bob still reads every note");

    // The other app still follows the server's rules.
    const carol = open({ appId: other, userId: "carol" });
    const dan = open({ appId: other, userId: "dan" });
    await carol.database.notes.create({ text: "carol's", ownerId: "carol" });
    await allOnline([carol]);
    const dans = recorder<readonly { text: string }[]>();
    dan.database.notes.subscribe({ fields: { text: true } }, dans.callback);
    await allOnline([dan]);
    await waitFor(() => dans.last?.loading === false, "dan's query answered");
    expect(dans.last?.data).toEqual([]);

    // Cleared: back to the server's rules, and bob loses what they no longer let him read.
    expect((await admin("DELETE", `/${app}/permissions`)).body).toEqual({ appId: app, source: "server", rules: null });
    await waitFor(() => seen.last?.data?.length === 1, "alice's notes leave bob's subscription");
    expect(seen.last?.data).toEqual([{ text: "bob's" }]);
    expect(((await bob.database.notes.query({})).data ?? []).map((note) => note.text)).toEqual(["bob's"]);

    expect((await admin("GET", "/no-such-app/permissions")).status).toBe(404);
    const unauthorized = await fetch(`${live.server.url}/v1/admin/apps/${app}/permissions`, {
      method: "PUT",
      body: "{}",
      headers: { authorization: "Bearer wrong-secret-of-some-length" },
    });
    expect(unauthorized.status).toBe(401);
  });
});
