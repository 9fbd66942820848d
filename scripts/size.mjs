// Size budget of the browser client: bundles a small React app that queries and syncs (what
// docs/getting-started.md builds) against the packages' build output, minified, with react and
// react-dom left out, and fails when what @trellis/* and their dependencies add to the page's
// first load is over the budget. Chunks loaded only on use (dynamic imports) are listed apart.
//
//   node scripts/size.mjs            the table; exit code 1 over the budget
//   node scripts/size.mjs --modules  also the minified bytes of each source module
//
// esbuild comes with vite (a root devDependency), so nothing is added to measure.
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/**
 * The most a React app using queries and sync may load of Trellis before it starts, gzipped.
 * The target is 30 kB; docs/design/029-bundle-size.md says what stands between.
 */
const BUDGET_BYTES = 49 * 1024;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const esbuild = createRequire(createRequire(join(root, "package.json")).resolve("vite"))("esbuild");

const app = `
import { createSchema, t } from "@trellis/core";
import { createClient } from "@trellis/client";
import { TrellisProvider, useQuery } from "@trellis/react";
import { createRoot } from "react-dom/client";

const schema = createSchema({ entities: { todos: { text: t.string({ fallback: "" }), done: t.boolean({ fallback: false }) } } });
const client = createClient({ schema, serverUrl: "https://sync.example.com", userId: "alice" });

function Todos() {
  const { data } = useQuery(client.database.todos, { where: { done: false }, orderBy: { createdAt: "asc" } });
  return (
    <ul>
      {data?.map((todo) => <li key={todo.id} onClick={() => client.database.todos.update({ id: todo.id, fields: { done: true } })}>{todo.text}</li>)}
      <button onClick={() => client.database.todos.create({ text: "New" })}>Add</button>
    </ul>
  );
}

createRoot(document.getElementById("root")).render(<TrellisProvider client={client}><Todos /></TrellisProvider>);
`;

/** Bundles the app; `source` reads the packages' TypeScript (for the per-module breakdown) instead of dist/. */
async function bundle(source) {
  return esbuild.build({
    stdin: { contents: app, loader: "jsx", resolveDir: join(root, "packages/react"), sourcefile: "app.jsx" },
    bundle: true,
    minify: true,
    format: "esm",
    splitting: true,
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    outdir: join(root, "node_modules/.cache/trellis-size"),
    write: false,
    metafile: true,
    logLevel: "silent",
    external: ["react", "react-dom", "react/*", "react-dom/*", "ws"],
    conditions: source ? ["@trellis/source"] : [],
    define: { "process.env.NODE_ENV": '"production"' },
  });
}

const gzip = (bytes) => gzipSync(bytes, { level: 9 }).length;
const kB = (bytes) => `${(bytes / 1024).toFixed(1)} kB`;

/** The output chunks, split into what the page loads at start (entry and its static imports) and the rest. */
function chunks(result) {
  const files = new Map(result.outputFiles.map((file) => [relative(root, file.path), file]));
  const byName = new Map();
  for (const [name, output] of Object.entries(result.metafile.outputs)) {
    const { contents } = files.get(name);
    byName.set(name, { name, output, gzip: gzip(contents), minified: contents.length });
  }
  const entry = [...byName.values()].find(({ output }) => output.entryPoint !== undefined);
  const initial = new Set([entry.name]);
  for (const name of initial) {
    for (const imported of byName.get(name).output.imports) {
      if (imported.kind === "import-statement" && byName.has(imported.path)) initial.add(imported.path);
    }
  }
  const lazy = [...byName.values()].filter(({ name }) => !initial.has(name));
  return { initial: [...initial].map((name) => byName.get(name)), lazy };
}

/** Which part of the code a bundled module belongs to, for the breakdown. */
function area(path) {
  const trellis = /packages\/(\w+)\/(?:src|dist)\/(?:([\w-]+)\/)?/.exec(path);
  if (trellis) return trellis[2] && !trellis[2].endsWith(".ts") ? `${trellis[1]}/${trellis[2]}` : trellis[1];
  const dependency = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(path);
  return dependency ? dependency[1] : "app";
}

function table(rows) {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column])))
        .join("  "),
    )
    .join("\n");
}

const built = chunks(
  await bundle(false).catch((error) => {
    console.error(`${error.message}\nscripts/size.mjs measures the packages' dist/: run \`pnpm run build\` first.`);
    process.exit(1);
  }),
);
/** What a chunk holds, by package. */
const label = (chunk) =>
  [...new Set(Object.keys(chunk.output.inputs).map(area))].filter((name) => name !== "app").join(", ") || "app";
const initialGzip = built.initial.reduce((sum, chunk) => sum + chunk.gzip, 0);
const rows = [["chunk", "minified", "gzip"]];
for (const chunk of built.initial) rows.push([`start: ${label(chunk)}`, kB(chunk.minified), kB(chunk.gzip)]);
for (const chunk of built.lazy) rows.push([`on use: ${label(chunk)}`, kB(chunk.minified), kB(chunk.gzip)]);
rows.push([
  `first load (budget ${kB(BUDGET_BYTES)})`,
  kB(built.initial.reduce((sum, chunk) => sum + chunk.minified, 0)),
  kB(initialGzip),
]);
console.log("Trellis in a React app with queries and sync (react, react-dom excluded)\n");
console.log(table(rows));

if (process.argv.includes("--modules")) {
  const source = await bundle(true);
  const areas = new Map();
  for (const output of Object.values(source.metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const entry = areas.get(area(path)) ?? { bytes: 0, modules: [] };
      entry.bytes += input.bytesInOutput;
      entry.modules.push([path, input.bytesInOutput]);
      areas.set(area(path), entry);
    }
  }
  const moduleRows = [["module (minified, before gzip)", "bytes"]];
  for (const [key, { bytes, modules }] of [...areas].sort((a, b) => b[1].bytes - a[1].bytes)) {
    moduleRows.push([key, String(bytes)]);
    for (const [path, size] of modules.sort((a, b) => b[1] - a[1]))
      moduleRows.push([`  ${path.replace(/^.*?(packages\/|node_modules\/)/, "")}`, String(size)]);
  }
  console.log(`\n${table(moduleRows)}`);
}

if (initialGzip > BUDGET_BYTES) {
  console.error(
    `\nOver budget: Trellis adds ${kB(initialGzip)} gzip to the first load; the budget is ${kB(BUDGET_BYTES)}.`,
  );
  console.error("See which modules grew with `node scripts/size.mjs --modules`.");
  process.exit(1);
}
