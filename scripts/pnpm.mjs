// Runs the pinned pnpm, so `npm start` and `npm test` work on a machine that has only Node and npm.
import { spawnSync } from "node:child_process";

const PNPM_VERSION = "10.34.8";
const args = process.argv.slice(2);

function hasPinnedPnpm() {
  const probe = spawnSync("pnpm", ["--version"], { encoding: "utf8", shell: process.platform === "win32" });
  return probe.status === 0 && probe.stdout.trim() === PNPM_VERSION;
}

const [command, commandArgs] = hasPinnedPnpm() ? ["pnpm", args] : ["npx", ["-y", `pnpm@${PNPM_VERSION}`, ...args]];

const result = spawnSync(command, commandArgs, { stdio: "inherit", shell: process.platform === "win32" });
if (result.error) {
  console.error(`Could not run pnpm: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
