import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  build: {
    target: "es2022",
    // @trellis/client loads `ws` only under Node, which may have no WebSocket; browsers have their own.
    rollupOptions: { external: ["ws"] },
  },
});
