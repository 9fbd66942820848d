import { createSchema, t } from "@trellis/core";
import { expect, it } from "vitest";
import { createClient } from "./create-client.js";
import { FAST_RECONNECT, useServerProcess, waitFor } from "./testing/live-server.js";

// Documents one client creates within the same millisecond sort by `createdAt` in the order it
// created them (their HLCs order them, not their random ids): locally, on the server, and on
// another client that syncs them. `createdAt` itself still reads in whole milliseconds.

const schema = createSchema({ entities: { todos: { n: t.number({ fallback: 0 }) } } });
const live = useServerProcess();
const COUNT = 300;

it("orders documents created in the same millisecond by creation, here, on the server and on another client", async () => {
  const appId = live.newApp("creation-order");
  const writer = live.track(
    createClient({ schema, serverUrl: live.server.url, appId, userId: "alice", reconnect: FAST_RECONNECT }),
  );
  const { data } = await writer.database.batch.execute(
    Array.from({ length: COUNT }, (_, n) => writer.database.batch.todos.create({ n })),
  );
  expect(data).toHaveLength(COUNT);
  const created = (
    await writer.database.todos.query({ orderBy: ["createdAt", "asc"], fields: { n: true, createdAt: true } })
  ).data!;
  // The test means something only if many share a millisecond.
  expect(new Set(created.map((todo) => todo.createdAt.getTime())).size).toBeLessThan(COUNT / 2);
  expect(created.map((todo) => todo.n)).toEqual(Array.from({ length: COUNT }, (_, n) => n));
  const newestFirst = (await writer.database.todos.query({ orderBy: ["createdAt", "desc"], limit: 5 })).data!;
  expect(newestFirst.map((todo) => todo.n)).toEqual([299, 298, 297, 296, 295]);

  // Pages cut inside a millisecond lose and repeat nothing.
  const pages = writer.database.todos.paginated({ orderBy: ["createdAt", "asc"], pageSize: 7 });
  const stop = pages.subscribe(() => {});
  const paged: number[] = [];
  for (let page = 0; page < Math.ceil(COUNT / 7); page++) {
    await waitFor(
      () => !pages.getCurrentState().loading && pages.getCurrentState().currentPage === page + 1,
      `page ${page + 1}`,
    );
    paged.push(...pages.getCurrentState().data!.map((todo) => todo.n));
    if (pages.getCurrentState().hasNext) await pages.next();
  }
  stop();
  expect(paged).toEqual(Array.from({ length: COUNT }, (_, n) => n));

  const reader = live.track(
    createClient({ schema, serverUrl: live.server.url, appId, userId: "bob", reconnect: FAST_RECONNECT }),
  );
  let seen: number[] = [];
  reader.database.todos.subscribe({ orderBy: ["createdAt", "asc"] }, (todos) => {
    if (todos !== undefined) seen = todos.map((todo) => todo.n);
  });
  await waitFor(() => seen.length === COUNT, "the other client has them all");
  expect(seen).toEqual(Array.from({ length: COUNT }, (_, n) => n));
  // A filter on createdAt compares whole milliseconds, as the value reads.
  const first = created[0]!;
  const sameMs = (await reader.database.todos.query({ where: { createdAt: first.createdAt } })).data!;
  expect(sameMs.length).toBe(created.filter((todo) => todo.createdAt.getTime() === first.createdAt.getTime()).length);
});
