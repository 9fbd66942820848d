import { TrellisProvider } from "@trellis/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app.js";
import { client } from "./client.js";

const root = document.getElementById("root");
if (root === null) throw new Error("index.html needs a #root element.");
createRoot(root).render(
  <StrictMode>
    <TrellisProvider client={client}>
      <App />
    </TrellisProvider>
  </StrictMode>,
);

// The built app keeps its own files for offline reloads (see offline-shell.ts); under the dev
// server (hot reloading) it does not, or edits would hide behind the cache.
if (import.meta.hot === undefined && "serviceWorker" in navigator) {
  navigator.serviceWorker
    .register(`${import.meta.env.BASE_URL}sw.js`)
    .catch((error: unknown) => console.warn("No offline reloads: the service worker did not register.", error));
}
