// The `create-trellis` command: `npm create trellis@latest my-app -- --template react|nextjs|sveltekit`.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { parseArgs } from "node:util";
import { createApp, templateNames } from "./create-app.js";

const usage = `Usage: create-trellis <folder> [--template ${templateNames().join("|")}] [--tarballs <dist-packages folder>]

  --template   the kind of app: react (Vite + React, the default), nextjs (Next.js App Router)
               or sveltekit (SvelteKit with adapter-node); the last two preload on the server
  --tarballs   depend on the @trellis/* tarballs of \`npm run pack\` in this folder, not on npm's
  --help       this text
  --version    create-trellis's version`;

function fail(message: string): never {
  console.error(`create-trellis: ${message}`);
  process.exit(1);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      template: { type: "string" },
      tarballs: { type: "string" },
      help: { type: "boolean" },
      version: { type: "boolean" },
    },
  });
}
try {
  parsed = parse();
} catch (error) {
  fail(`${(error as Error).message}\n\n${usage}`);
}
const { values, positionals } = parsed;
if (values.help === true) {
  console.log(usage);
  process.exit(0);
}
if (values.version === true) {
  console.log(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version);
  process.exit(0);
}
if (positionals.length !== 1)
  fail(
    `${positionals.length === 0 ? "name the folder for the new app" : `one folder, not ${positionals.length}`}.\n\n${usage}`,
  );

const folder = positionals[0]!;
let app: ReturnType<typeof createApp>;
try {
  app = createApp({
    directory: folder,
    ...(values.template === undefined ? {} : { template: values.template }),
    ...(values.tarballs === undefined ? {} : { tarballs: values.tarballs }),
  });
} catch (error) {
  fail((error as Error).message);
}
const cd = relative(process.cwd(), app.directory) || ".";
console.log(`Wrote a ${values.template ?? "react"} app "${app.name}" to ${cd}/ (${app.files.length} files).

Next:
  cd ${/\s/.test(cd) ? JSON.stringify(cd) : cd}
  npm install
  npm run server   # the sync server on http://127.0.0.1:8787, data in ./data (keep it running)
  npm run dev      # the app, in another terminal: open the URL it prints`);
