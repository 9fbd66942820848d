import adapter from "@sveltejs/adapter-node";
import { vitePreprocess } from "@sveltejs/vite-plugin-svelte";

/** @type {import("@sveltejs/kit").Config} */
export default {
  preprocess: vitePreprocess(),
  // A Node server (`npm run build`, then `npm start`): the pages preload on each request.
  kit: { adapter: adapter() },
};
