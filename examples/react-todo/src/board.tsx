import { useRoom } from "@trellis/react";
import { type PointerEvent, useEffect } from "react";
import { client } from "./client.js";
import { boardId, userName } from "./config.js";

const palette = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e"];
const colourOf = (userId: string) =>
  palette[[...userId].reduce((sum, char) => sum + char.charCodeAt(0), 0) % palette.length];

/**
 * A shared board: everyone in the room sees everyone else's pointer. Statuses live in the
 * server's memory only and go with the room: when a user leaves, their cursor goes too.
 */
export function Board() {
  const { userStatuses, setUserStatus, isConnected } = useRoom(client.rooms.board, boardId);
  useEffect(() => void setUserStatus("name", userName), [setUserStatus]);

  const move = (event: PointerEvent<HTMLDivElement>) => {
    const box = event.currentTarget.getBoundingClientRect();
    void setUserStatus("cursor", { x: Math.round(event.clientX - box.left), y: Math.round(event.clientY - box.top) });
  };
  const members = Object.entries(userStatuses);

  return (
    <section aria-label="Board">
      <h2>Board</h2>
      <p>
        Here now{isConnected ? "" : " (offline: showing the last known)"}:{" "}
        <span data-testid="presence">
          {members.map(([userId, status], index) => (
            <span key={userId} data-testid={`present-${userId}`} style={{ color: colourOf(userId) }}>
              {index > 0 && ", "}
              {status.name || userId}
              {userId === userName && " (you)"}
            </span>
          ))}
        </span>
      </p>
      <div
        data-testid="board"
        onPointerMove={move}
        onPointerLeave={() => void setUserStatus("cursor", undefined)}
        style={{
          position: "relative",
          height: 240,
          border: "1px solid #d0d7de",
          borderRadius: 6,
          overflow: "hidden",
          background: "#f6f8fa",
          touchAction: "none",
        }}
      >
        {members.map(([userId, status]) =>
          userId === userName || status.cursor === undefined ? null : (
            <span
              key={userId}
              data-testid={`cursor-${userId}`}
              data-x={status.cursor.x}
              data-y={status.cursor.y}
              style={{
                position: "absolute",
                left: status.cursor.x,
                top: status.cursor.y,
                color: colourOf(userId),
                pointerEvents: "none",
                whiteSpace: "nowrap",
              }}
            >
              ▲ {status.name || userId}
            </span>
          ),
        )}
      </div>
    </section>
  );
}
