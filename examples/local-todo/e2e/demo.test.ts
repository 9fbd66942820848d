import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { createServer } from "@trellis/server";
import { expect, it } from "vitest";

// `npm start`'s terminal demo (without --web), run as `npm start` runs it, twice on one data
// folder: alice shares a list with bob under the example's rules, and bob's view prints the same
// each run.
const MAIN = fileURLToPath(new URL("../main.mjs", import.meta.url));
const RULES = fileURLToPath(new URL("../../react-todo/rules.json", import.meta.url));

const schema = createSchema({
  entities: {
    users: {},
    lists: { name: t.string({ fallback: "" }), memberIds: t.refMany("users") },
    todos: {
      text: t.string({ fallback: "" }),
      done: t.boolean({ fallback: false }),
      priority: t.number({ fallback: 0 }),
      listId: t.ref("lists"),
    },
  },
});

it("prints bob's live view of the list alice shares with him, the same on every run, and keeps one copy of the list", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "trellis-demo-"));
  try {
    const runs = [0, 1].map(() =>
      spawnSync(process.execPath, [MAIN, "--once"], {
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, TRELLIS_DATA: dataDir, PORT: "0" },
      }),
    );
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
    expect(runs[1]!.stdout).toContain("Replaying the demo on its list from an earlier run");

    // What the data folder holds after both runs, as alice reads it.
    const server = await createServer({
      port: 0,
      dataDir,
      permissions: JSON.parse(readFileSync(RULES, "utf8")),
      log: () => {},
    });
    const alice = createClient({ schema, appId: "demo", serverUrl: server.url, userId: "alice" });
    try {
      const lists = await firstAnswer(alice.database.lists, { where: { name: "demo" } });
      expect(lists).toHaveLength(1);
      const todos = await firstAnswer(alice.database.todos, {
        where: { listId: lists[0]!.id },
        orderBy: [["text", "asc"]],
      });
      expect(todos.map((todo) => [todo.text, todo.priority, todo.done])).toEqual([
        ["buy milk", 11, false],
        ["write docs", 5, false],
      ]);
    } finally {
      await alice.close();
      await server.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

it("stops on Ctrl+C with exit code 0 and a goodbye", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "trellis-demo-"));
  try {
    const child = spawn(process.execPath, [MAIN], { env: { ...process.env, TRELLIS_DATA: dataDir, PORT: "0" } });
    let stdout = "";
    let isInterrupted = false;
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (isInterrupted || !stdout.includes("Press Ctrl+C to stop.")) return;
      isInterrupted = true;
      // Twice, as under `npm start`: from the terminal and forwarded by npm.
      child.kill("SIGINT");
      child.kill("SIGINT");
    });
    expect(await exited, stdout).toBe(0);
    expect(stdout.trimEnd().split("\n").at(-1)).toBe("Stopped the Trellis demo. Bye!");
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** The query's first result from the server. */
function firstAnswer<T>(
  collection: {
    subscribe(
      query: never,
      callback: (rows: readonly T[] | undefined, error: Error | undefined, loading: boolean) => void,
    ): { unsubscribe(): void };
  },
  query: object,
): Promise<readonly T[]> {
  return new Promise((resolve, reject) => {
    const subscription = collection.subscribe(query as never, (rows, error, loading) => {
      if (error) reject(error);
      else if (!loading) {
        queueMicrotask(() => subscription.unsubscribe());
        resolve(rows ?? []);
      }
    });
  });
}
