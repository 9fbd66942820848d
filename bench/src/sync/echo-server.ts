/**
 * Child process: a plain `ws` server, the floor of what any WebSocket sync server can do on this
 * machine. A frame starting with "b" is broadcast to every other socket (the fan-out floor);
 * any other frame is echoed back (the round-trip floor).
 *
 * Usage: forked by the runner; op `start` answers the port it listens on (127.0.0.1).
 */
import { WebSocketServer } from "ws";
import { serve } from "./ipc.js";

serve({
  start: () =>
    new Promise<number>((resolve) => {
      const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
      server.on("connection", (socket) => {
        socket.on("message", (data, isBinary) => {
          if (isBinary || (data as Buffer)[0] !== 0x62 /* "b" */) return socket.send(data, { binary: isBinary });
          const text = data.toString();
          for (const other of server.clients) if (other !== socket) other.send(text);
        });
      });
      server.on("listening", () => resolve((server.address() as { port: number }).port));
    }),
});
