import { createSchema, t } from "@trellis/core";
import { expect, it } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { allOnline, FAST_RECONNECT, recorder, useServerProcess, waitFor } from "../testing/live-server.js";

// Documents made by one createMany reach another client through a real `trellis-server`
// process, with the ids the writer gave or generated; a second client refuses an id it has seen.

const schema = createSchema({
  entities: { todos: { text: t.string({ fallback: "" }), done: t.boolean({ fallback: false }) } },
});
type Client = TrellisClient<typeof schema>;

const COUNT = 2_000;

const live = useServerProcess();

function connect(): Client {
  return live.track(createClient({ schema, appId: "bulk", serverUrl: live.server.url, reconnect: FAST_RECONNECT }));
}

it("delivers the documents of one createMany to another client, with their ids", async () => {
  const writer = connect();
  const reader = connect();
  const seen = recorder<readonly { id: string; text: string; done: boolean }[]>();
  reader.database.todos.subscribe(
    { fields: { id: true, text: true, done: true }, orderBy: ["text", "asc"] },
    seen.callback,
  );
  await allOnline([writer, reader]);

  const documents = Array.from({ length: COUNT }, (_, i) => ({
    ...(i % 2 === 0 ? { id: `todo-${i}` } : {}),
    text: `todo ${String(i).padStart(5, "0")}`,
    done: i % 3 === 0,
  }));
  const created = await writer.database.todos.createMany(documents);
  expect(created.error).toBeUndefined();
  const expected = created
    .data!.map(({ id, text, done }) => ({ id, text, done }))
    .sort((a, b) => a.text.localeCompare(b.text));
  expect(expected.filter(({ id }) => id.startsWith("todo-"))).toHaveLength(COUNT / 2);

  await waitFor(
    () => seen.last?.data?.length === COUNT,
    () => `every created document reaches the reader; it has ${seen.last?.data?.length}`,
  );
  expect(seen.last?.data).toEqual(expected);
  await waitFor(() => writer.connection.pending === 0, "the server acknowledges the write");

  // The reader knows the ids now: creating one of them again is refused there, and nothing changes.
  const again = await reader.database.todos.createMany([{ id: "todo-0", text: "copy", done: true }]);
  expect(again.error?.code).toBe("VALIDATION");
  expect(again.error?.details).toMatchObject({ index: 0, id: "todo-0" });
  expect((await reader.database.todos.queryOne({ where: { id: "todo-0" } })).data?.text).toBe("todo 00000");
});
