// Where the app syncs and who the user is: query parameters first, then build-time settings.
const params = new URLSearchParams(window.location.search);

/** The sync server: `?server=…`, else `VITE_TRELLIS_SERVER_URL`, else the `npm start` default. */
export const serverUrl = params.get("server") || import.meta.env.VITE_TRELLIS_SERVER_URL || "http://127.0.0.1:8787";

/** The app id on the server (`?app=…`): each id is a separate database. */
export const appId = params.get("app") || "react-todo";

/** The user's name (`?user=alice`), else a random one; it is also the user id in dev mode. */
export const userName = params.get("user") || randomName();

/** Which board room to join (`?board=…`). */
export const boardId = params.get("board") || "main";

function randomName(): string {
  const animals = ["otter", "heron", "lynx", "panda", "gecko", "finch", "koala", "moose"];
  const animal = animals[Math.floor(Math.random() * animals.length)] ?? "guest";
  return `${animal}-${Math.floor(Math.random() * 1000)}`;
}
