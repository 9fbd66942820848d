import react from "@vitejs/plugin-react";
import { defaultClientConditions, defineConfig } from "vite";
import { offlineShell } from "./offline-shell.js";

export default defineConfig({
  // offlineShell: a service worker so a reload while offline still shows the app.
  plugins: [react(), offlineShell()],
  // Inside this repository, bundle @trellis/* from their TypeScript sources (no build needed);
  // an app using the published packages leaves this out.
  resolve: { conditions: ["@trellis/source", ...defaultClientConditions] },
  server: { host: "127.0.0.1" },
  build: {
    target: "es2022",
    // @trellis/client's fallback WebSocket for Node; the browser has its own, so it is never loaded.
    rollupOptions: { external: ["ws"] },
  },
});
