import "fake-indexeddb/auto";
import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { type ClientOptions, createClient, type TrellisClient } from "../create-client.js";
import { allOnline, FAST_RECONNECT, recorder, useServerProcess, waitFor } from "../testing/live-server.js";

// Relational filters and rules through relations against a real server: a client that holds
// nothing yet syncs a filtered query and runs it itself; membership changes move tasks in and
// out of a member's subscriptions, memory and storage.

const schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }) },
    projects: { name: t.string({ fallback: "" }), memberIds: t.refMany("users") },
    tasks: { title: t.string({ fallback: "" }), projectId: t.ref("projects") },
  },
});
type Client = TrellisClient<typeof schema>;

const member = { memberIds: "$user.id" };
const inMyProject = { projectId: { where: member } };
const RULES = {
  projects: { read: member, create: member, update: member, delete: member },
  tasks: { read: inMyProject, create: inMyProject, update: inMyProject, delete: inMyProject },
};

const live = useServerProcess({ permissions: RULES });
let apps = 0;

function open(options: Partial<ClientOptions<typeof schema>>): Client {
  return live.track(createClient({ schema, reconnect: FAST_RECONNECT, ...options }));
}

describe("relational filters and rules through relations", () => {
  it("syncs a filtered query to a client holding nothing, which then follows it live", async () => {
    const appId = `relational-${++apps}`;
    const alice = open({ appId, serverUrl: live.server.url, userId: "alice", storage: "memory" });
    const launch = (await alice.database.projects.create({ name: "launch", memberIds: ["alice"] })).data!;
    const other = (await alice.database.projects.create({ name: "other", memberIds: ["alice"] })).data!;
    await alice.database.tasks.create({ title: "ship", projectId: launch.id });
    await alice.database.tasks.create({ title: "elsewhere", projectId: other.id });
    await allOnline([alice]);

    // Another device of alice's starts empty: the projects the filter reads come with the tasks.
    const device = open({ appId, serverUrl: live.server.url, userId: "alice", storage: "indexeddb" });
    const calls = recorder<readonly { title: string }[]>();
    device.database.tasks.subscribe(
      { fields: { title: true }, where: { projectId: { where: { name: "launch" } } } },
      calls.callback,
    );
    await waitFor(() => calls.last?.data?.length === 1, "the task of the launch project arrives");
    expect(calls.last?.data).toEqual([{ title: "ship" }]);

    // The project is renamed elsewhere: the filter no longer holds, then holds for the other one.
    await alice.database.projects.update({ id: launch.id, fields: { name: "later" } });
    await alice.database.projects.update({ id: other.id, fields: { name: "launch" } });
    await waitFor(() => calls.last?.data?.[0]?.title === "elsewhere", "the other project's task enters");
    expect(calls.last?.data).toEqual([{ title: "elsewhere" }]);
  });

  it("shows a project's tasks to a member from the moment alice adds him, and takes them back when she removes him", async () => {
    const appId = `membership-${++apps}`;
    const alice = open({ appId, serverUrl: live.server.url, userId: "alice", storage: "memory" });
    const bob = open({ appId, serverUrl: live.server.url, userId: "bob", storage: "indexeddb" });
    // The project and its task reach the server in one push: the task's rule sees the project.
    const project = (await alice.database.projects.create({ name: "shared", memberIds: ["alice"] })).data!;
    await alice.database.tasks.create({ title: "first", projectId: project.id });
    await allOnline([alice]);

    const calls = recorder<readonly { title: string }[]>();
    bob.database.tasks.subscribe({ fields: { title: true } }, calls.callback);
    await waitFor(() => calls.last?.data !== undefined && !calls.last.loading, "bob's query answered");
    expect(calls.last?.data).toEqual([]);

    await alice.database.projects.update({ id: project.id, fields: { memberIds: ["alice", "bob"] } });
    await waitFor(() => calls.last?.data?.length === 1, "the task enters bob's subscription");
    // A member may write the project's tasks.
    const added = await bob.database.tasks.create({ title: "bob's", projectId: project.id });
    expect(added.error).toBeUndefined();
    await waitFor(() => calls.last?.data?.length === 2, "bob's own task shows");
    await allOnline([bob]);

    await alice.database.projects.update({ id: project.id, fields: { memberIds: ["alice"] } });
    await waitFor(() => calls.last?.data?.length === 0, "the tasks leave bob's subscription");
    expect((await bob.database.tasks.query({})).data).toEqual([]);
    expect((await bob.database.projects.query({})).data).toEqual([]);

    // After a reload, offline, bob's storage holds none of them.
    await bob.close();
    const reloaded = open({ appId, userId: "bob", storage: "indexeddb" });
    expect((await reloaded.database.tasks.query({})).data).toEqual([]);
  });

  /**
   * Bob follows the one task of a project alice shares with him, goes offline, alice takes his
   * access away with `revoke`, and bob comes back: the task must leave his subscription and store.
   */
  async function losesAccessWhileOffline(
    appId: string,
    revoke: (alice: Client, projectId: string) => Promise<unknown>,
  ): Promise<void> {
    const alice = open({ appId, serverUrl: live.server.url, userId: "alice", storage: "memory" });
    const bob = open({ appId, serverUrl: live.server.url, userId: "bob", storage: "indexeddb" });
    const project = (await alice.database.projects.create({ name: "shared", memberIds: ["alice", "bob"] })).data!;
    await alice.database.tasks.create({ title: "known to bob", projectId: project.id });
    const calls = recorder<readonly { title: string }[]>();
    bob.database.tasks.subscribe({ fields: { title: true } }, calls.callback);
    await waitFor(() => calls.last?.data?.length === 1, "bob sees the task");
    await allOnline([bob]);

    bob.disconnect();
    await revoke(alice, project.id);
    await allOnline([alice]);
    expect((await bob.database.tasks.query({})).data).toHaveLength(1);
    bob.connect();
    await waitFor(() => calls.last?.data?.length === 0, "the task leaves bob's subscription on resync");
    await allOnline([bob]);
    expect((await bob.database.tasks.query({})).data).toEqual([]);
  }

  it("drops a project's tasks from a member taken out of it while he was offline, when he comes back", async () => {
    await losesAccessWhileOffline(`membership-offline-${++apps}`, (alice, id) =>
      alice.database.projects.update({ id, fields: { memberIds: ["alice"] } }),
    );
  });

  it("drops the tasks of a project deleted while the member was offline, when he comes back", async () => {
    // Nothing names bob in a set here: the project is gone, so its task is nobody's to read.
    await losesAccessWhileOffline(`deleted-offline-${++apps}`, async (alice, id) =>
      expect((await alice.database.projects.delete(id)).error).toBeUndefined(),
    );
  });
});
