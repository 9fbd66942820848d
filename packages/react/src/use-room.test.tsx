// @vitest-environment jsdom
import { createClient, type TrellisClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { act, cleanup, render } from "@testing-library/react";
import { StrictMode } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { settle } from "./testing/fixtures.js";
import { useRoom } from "./use-room.js";

// useRoom on a local-only client: membership and local statuses. Rooms between clients are in
// with-server.test.tsx.

const schema = createSchema({
  entities: {},
  rooms: {
    board: {
      userStatus: { cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }) }) },
      roomStatus: { title: t.string({ optional: true }) },
    },
  },
});
type Client = TrellisClient<typeof schema>;
const clients: Client[] = [];
afterEach(async () => {
  cleanup();
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

/** A local client whose `rooms.board` counts the handles opened and not left. */
function countingClient() {
  const client = createClient({ schema, userId: "ada" });
  clients.push(client);
  const counts = { opened: 0, live: 0 };
  const open = client.rooms.board;
  (client.rooms as { board: typeof open }).board = (roomId) => {
    const handle = open(roomId);
    counts.opened++;
    counts.live++;
    const leave = handle.leave;
    return Object.assign(handle, {
      leave: () => {
        counts.live--;
        leave();
      },
    });
  };
  return { client, counts };
}

describe("useRoom", () => {
  it("joins once under StrictMode, applies statuses locally, and leaves on unmount", async () => {
    const { client, counts } = countingClient();
    const seen: ReturnType<typeof useRoom<(typeof schema)["rooms"]["board"]>>[] = [];
    function Board() {
      seen.push(useRoom(client.rooms.board, "b1"));
      return null;
    }
    const { unmount } = render(
      <StrictMode>
        <Board />
      </StrictMode>,
    );
    await settle();
    expect(counts).toEqual({ opened: 1, live: 1 });
    expect(seen.at(-1)).toMatchObject({
      roomStatus: {},
      userStatuses: { ada: {} },
      isConnected: false,
      error: undefined,
    });
    await act(async () => {
      await seen.at(-1)!.setUserStatus("cursor", { x: 1, y: 2 });
      await seen.at(-1)!.set("title", "Sprint");
    });
    expect(seen.at(-1)!.userStatuses).toEqual({ ada: { cursor: { x: 1, y: 2 } } });
    expect(seen.at(-1)!.roomStatus).toEqual({ title: "Sprint" });
    const sent = await seen.at(-1)!.emit("like" as never, {} as never);
    expect(sent.error?.code).toBeDefined();
    unmount();
    await settle();
    expect(counts).toEqual({ opened: 1, live: 0 });
  });

  it("joins another room when the room id changes", async () => {
    const { client, counts } = countingClient();
    function Board({ id }: { id: string }) {
      useRoom(client.rooms.board, id);
      return null;
    }
    const view = render(<Board id="a" />);
    view.rerender(<Board id="b" />);
    await settle();
    expect(counts).toEqual({ opened: 2, live: 1 });
  });
});
