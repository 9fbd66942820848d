import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  codeBlocks,
  type DocCommand,
  type DocSession,
  markdownSection,
  shellCommands,
  startDocSession,
} from "./testing/doc-shell.js";

// Runs "A first app in five minutes" of docs/getting-started.md as a reader does, in a fresh
// project outside the workspace: each ```ts block is the file its first line names, compiled by
// TypeScript with the settings docs/install.md gives and the built packages' types, and each
// ```sh block runs in bash (see startDocSession: `npx trellis-server` is the built CLI on a free
// port, which the doc's URL in trellis.ts stands for). Every command must print what the doc
// shows under it and end on its own; the types the guide says its values have are checked with the
// same compile. The React step (```tsx) needs a browser: scripts/check-docs.mjs type-checks it.

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = join(ROOT, "packages/server/dist/cli.js");
const SERVER_URL = "http://127.0.0.1:8787";
/** What docs/install.md has the reader install: the packages (here the workspace's builds) and TypeScript. */
const INSTALLED = { "@trellis/core": join(ROOT, "packages/core"), "@trellis/client": join(ROOT, "packages/client") };

let session: DocSession | undefined;
let project: string | undefined;

beforeAll(() => {
  for (const path of [CLI, ...Object.values(INSTALLED).map((folder) => join(folder, "dist/index.d.ts"))]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: build the packages first.`);
  }
});

afterEach(async () => {
  await session?.close();
  session = undefined;
  if (project !== undefined) rmSync(project, { recursive: true, force: true });
  project = undefined;
});

/** A project as docs/install.md leaves it: an ES module package with TypeScript, its tsconfig, and the packages installed. */
function readerProject(): string {
  const folder = mkdtempSync(join(tmpdir(), "trellis-first-app-"));
  writeFileSync(join(folder, "package.json"), JSON.stringify({ name: "first-app", private: true, type: "module" }));
  writeFileSync(
    join(folder, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { module: "nodenext", target: "es2022", strict: true } }),
  );
  const typescript = dirname(createRequire(join(ROOT, "package.json")).resolve("typescript/package.json"));
  const links: Record<string, string> = { ...INSTALLED, typescript: realpathSync(typescript) };
  for (const [name, target] of Object.entries(links)) {
    mkdirSync(dirname(join(folder, "node_modules", name)), { recursive: true });
    symlinkSync(target, join(folder, "node_modules", name), "dir");
  }
  mkdirSync(join(folder, "node_modules/.bin"));
  symlinkSync("../typescript/bin/tsc", join(folder, "node_modules/.bin/tsc"));
  return folder;
}

/**
 * A file that compiles only if `todo` and `open` of step 4 have the types the prose under it
 * names (each assignable to the other: `readonly` aside, the same), over the step's own query.
 */
function proseTypes(section: string): string {
  const named = (value: string) =>
    new RegExp(`\`${value}\`(?:, once loaded,)? is\\s+\`([^\`]+)\``).exec(section)?.[1]?.replace(/\s+/g, " ");
  const query = /\.subscribe\(\s*(\{.*\}),\n/.exec(section)?.[1];
  const [todo, open] = [named("todo"), named("open")];
  if (todo === undefined || open === undefined || query === undefined)
    throw new Error("step 4 no longer names the types of `todo` and `open`, or its query moved");
  return `import { client } from "./trellis.js";
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
declare function holds<T extends true>(): void;
export async function asTheGuideSays(): Promise<void> {
  const { data: todo } = await client.database.todos.create({ text: "", done: false });
  holds<Same<NonNullable<typeof todo>, ${todo}>>();
  client.database.todos.subscribe(${query}, (open) => holds<Same<NonNullable<typeof open>, ${open}>>());
}
`;
}

describe("docs/getting-started.md, “A first app in five minutes”", () => {
  it(
    "writes the schema, starts the server, and runs the client program: it prints what the guide shows and ends on its own",
    { timeout: 120_000 },
    async () => {
      const guide = readFileSync(join(ROOT, "docs/getting-started.md"), "utf8");
      const section = markdownSection(guide, "A first app in five minutes");
      project = readerProject();
      // The compile gets time to spare on a busy machine (a few seconds alone).
      session = startDocSession({
        cli: CLI,
        cwd: project,
        serverUrls: [SERVER_URL],
        exampleIds: [],
        stepTimeoutMs: 30_000,
      });
      writeFileSync(join(project, "prose-types.ts"), proseTypes(section));

      const written: string[] = [];
      const commands: DocCommand[] = [];
      for (const block of codeBlocks(section)) {
        if (block.language === "ts") {
          const name = /^\/\/ ([\w.-]+\.ts)\n/.exec(block.body)?.[1];
          if (name === undefined)
            throw new Error(
              `a \`\`\`ts block of the guide does not start with the name of its file (// name.ts):\n${block.body}`,
            );
          // The doc's server is the one the steps started.
          writeFileSync(
            join(project, name),
            session.url === undefined ? block.body : block.body.replaceAll(SERVER_URL, session.url),
          );
          written.push(name);
        } else if (block.language === "sh") {
          for (const step of shellCommands(block.body)) {
            await session.run(step);
            commands.push(step);
          }
        }
      }
      expect(written).toEqual(["schema.ts", "trellis.ts", "main.ts"]);
      expect(commands.map((step) => step.command)).toEqual([
        expect.stringMatching(/^npx trellis-server /),
        "npx tsc",
        "node main.js",
      ]);
      expect(session.url).toBeDefined();
      // "Run it again: the same two lines."
      await session.run(commands.at(-1)!);
    },
  );
});
