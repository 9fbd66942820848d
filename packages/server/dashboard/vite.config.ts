import { fileURLToPath } from "node:url";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vite";

// The dashboard, built with the server package into dist/dashboard and served at /dashboard
// (docs/design/027-dashboard.md): assets under /dashboard/assets/, no inline script (the server's CSP
// allows only its own files).
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/dashboard/",
  plugins: [svelte()],
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../dist/dashboard", import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
  },
});
