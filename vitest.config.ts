import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";
import { defaultClientConditions, defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// Tests run against the packages' TypeScript sources, not their build output.
const sourceCondition = "@trellis/source";

export default defineConfig({
  // Compiles `.svelte` and `.svelte.ts` files (runes) for @trellis/svelte's tests; other files pass through.
  plugins: [svelte(), svelteTesting()],
  resolve: { conditions: [sourceCondition, ...defaultClientConditions] },
  ssr: { resolve: { conditions: [sourceCondition, ...defaultServerConditions] } },
  test: {
    // e2e/: browser tests in Chromium (see docs/design/012-browser-tests.md).
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/src/**/*.test.tsx",
      "packages/*/e2e/**/*.test.ts",
      "examples/*/e2e/**/*.test.ts",
      "scripts/**/*.test.ts",
    ],
    typecheck: { enabled: true, include: ["packages/*/src/**/*.test-d.ts"], tsconfig: "./tsconfig.json" },
    setupFiles: ["packages/client/src/testing/lazy-code.ts"],
    testTimeout: 60_000,
    reporters: ["default", "./scripts/summary-reporter.ts"],
  },
});
