import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const { version } = JSON.parse(readFileSync(join(ROOT, "packages/server/package.json"), "utf8")) as { version: string };

/** The Dockerfile's instructions as [KEYWORD, arguments], comments dropped and continued lines joined. */
function instructions(text: string): Array<[string, string]> {
  const lines = text.split("\n").filter((line) => !/^\s*#/.test(line));
  const joined = lines.join("\n").replaceAll(/\\\n\s*/g, " ");
  return joined
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [, keyword, rest] = /^\s*(\S+)\s*(.*)$/.exec(line)!;
      return [keyword!.toUpperCase(), rest!.trim()];
    });
}

/** Why the image cannot be built here, or undefined when a Docker daemon answers. */
function dockerUnavailable(): string | undefined {
  const info = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 30_000 });
  if ((info.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") return "docker is not on PATH";
  if (info.status !== 0)
    return `docker is on PATH but no daemon answers (${(info.stderr || String(info.error)).trim().split("\n")[0]})`;
  return undefined;
}

describe("the Dockerfile", () => {
  const steps = instructions(dockerfile);
  const all = (keyword: string) => steps.filter(([name]) => name === keyword).map(([, rest]) => rest);

  it("builds in one stage and runs as node on 0.0.0.0, data on a /data volume, checked through /health", () => {
    expect(all("FROM").length).toBeGreaterThanOrEqual(2);
    const environment = all("ENV").join(" ");
    for (const setting of ["HOST=0.0.0.0", "PORT=8787", "TRELLIS_DATA=/data"]) expect(environment).toContain(setting);
    expect(all("VOLUME")).toEqual(["/data"]);
    expect(all("USER")).toEqual(["node"]);
    const [healthcheck] = all("HEALTHCHECK");
    const command = JSON.parse(healthcheck!.slice(healthcheck!.indexOf("CMD ") + 4)) as string[];
    expect(command.join(" ")).toContain("/health");
    expect(JSON.parse(all("ENTRYPOINT")[0]!)).toEqual(["node", "/app/dist/cli.js"]);
    // The same pnpm as the repository's, so that the lockfile reads the same.
    const { packageManager } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      packageManager: string;
    };
    expect(dockerfile).toContain(`npm install -g ${packageManager}`);
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n");
    for (const entry of ["**/node_modules", "**/dist", "**/data"]) expect(ignored).toContain(entry);
  });

  it(
    "builds an image that reports its version, answers /health and stops cleanly on docker stop",
    { timeout: 20 * 60_000 },
    async (context) => {
      const reason = dockerUnavailable();
      // The only test allowed to skip: Docker is never required to build or test Trellis.
      if (reason !== undefined) context.skip(`needs a Docker daemon: ${reason}`);
      const docker = (...args: string[]) =>
        execFileSync("docker", args, {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
          timeout: 15 * 60_000,
        }).trim();
      const image = `trellis-server-test:${process.pid}`;
      docker("build", "--tag", image, ROOT);
      let container: string | undefined;
      try {
        expect(docker("run", "--rm", image, "--version")).toBe(version);
        container = docker("run", "--detach", "--publish", "127.0.0.1::8787", image);
        const published = docker("port", container, "8787/tcp").split("\n")[0]!;
        const health = await vi.waitFor(async () => (await fetch(`http://${published}/health`)).status, {
          timeout: 30_000,
          interval: 250,
        });
        expect(health).toBe(200);
        expect(docker("exec", container, "id", "-un")).toBe("node");
        docker("stop", container);
        expect(docker("inspect", "--format", "{{.State.ExitCode}}", container)).toBe("0");
        expect(docker("logs", container)).toMatch(/^Trellis sync server listening on http:\/\/0\.0\.0\.0:8787$/m);
      } finally {
        if (container !== undefined) spawnSync("docker", ["rm", "--force", container]);
        spawnSync("docker", ["rmi", "--force", image]);
      }
    },
  );
});
