import { createSchema, t } from "@trellis/core";
import { expect, it } from "vitest";
import { createClient } from "../create-client.js";
import type { SyncProgress } from "./client-connection.js";
import { FAST_RECONNECT, useServerProcess, waitFor } from "../testing/live-server.js";

// A first sync of many documents reports its progress on `client.connection` as the server's
// parts arrive, and the subscription shows the whole answer once, at the end.

const schema = createSchema({
  entities: { todos: { title: t.string({ fallback: "" }), n: t.number({ fallback: 0 }) } },
});
const live = useServerProcess({ args: ["--limit", "snapshotPartTriples=400"] });
const COUNT = 2_000;

it("reports documents received of the total during a large first sync, then nothing", async () => {
  const appId = live.newApp("progress");
  const writer = live.track(
    createClient({ schema, serverUrl: live.server.url, appId, userId: "alice", reconnect: FAST_RECONNECT }),
  );
  await writer.database.batch.execute(
    Array.from({ length: COUNT }, (_, n) => writer.database.batch.todos.create({ title: `todo ${n}`, n })),
  );
  await waitFor(
    () => writer.connection.getCurrentState().pending === 0 && writer.connection.state === "online",
    "the writes stored",
  );

  const reader = live.track(
    createClient({ schema, serverUrl: live.server.url, appId, userId: "bob", reconnect: FAST_RECONNECT }),
  );
  const progress: Array<SyncProgress | undefined> = [];
  reader.connection.subscribe((status) => {
    if (progress.at(-1) !== status.progress) progress.push(status.progress);
  });
  const calls: Array<{ count: number | undefined; loading: boolean }> = [];
  reader.database.todos.subscribe({}, (todos, _error, loading) => calls.push({ count: todos?.length, loading }));
  await waitFor(() => calls.some((call) => !call.loading), "the whole answer");

  const steps = progress.filter((step): step is SyncProgress => step !== undefined);
  expect(steps.length).toBeGreaterThan(3);
  expect(steps.every((step) => step.total === COUNT && step.documents < COUNT)).toBe(true);
  expect(steps.map((step) => step.documents)).toEqual([...steps.map((step) => step.documents)].sort((a, b) => a - b));
  expect(progress.at(-1)).toBeUndefined();
  expect(reader.connection.progress).toBeUndefined();
  // Loading until the end, then all of it at once.
  expect(calls).toEqual([
    { count: undefined, loading: true },
    { count: COUNT, loading: false },
  ]);
});
