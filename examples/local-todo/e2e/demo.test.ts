import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

// `npm start`'s terminal demo (without --web), run as `npm start` runs it, twice on one data
// folder: alice shares a list with bob under the example's rules, and bob's view prints the same
// each run.
const MAIN = fileURLToPath(new URL("../main.mjs", import.meta.url));

it("prints bob's live view of the list alice shares with him, the same on every run", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "trellis-demo-"));
  try {
    const runs = [0, 1].map(() => spawnSync(process.execPath, [MAIN, "--once"], { encoding: "utf8", timeout: 60_000, env: { ...process.env, TRELLIS_DATA: dataDir, PORT: "0" } }));
    for (const run of runs) {
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout.split("\n").filter((line) => line.startsWith("bob sees"))).toEqual([
        "bob sees 0 open: none",
        "bob sees 1 open: buy milk [p1]",
        "bob sees 2 open: write docs [p5], buy milk [p1]",
        "bob sees 3 open: ship Trellis [p9], write docs [p5], buy milk [p1]",
        "bob sees 3 open: buy milk [p11], ship Trellis [p9], write docs [p5]",
        "bob sees 2 open: buy milk [p11], write docs [p5]",
      ]);
      expect(run.stdout).toContain("Permission rules: examples/react-todo/rules.json");
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
