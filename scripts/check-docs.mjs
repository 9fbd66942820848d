// Type-checks the TypeScript samples in docs/*.md and packages/*/README.md against the packages' sources: each ```ts or
// ```tsx block becomes a module that imports, from scripts/docs-check/prelude.ts, whatever it
// uses without declaring (the guides' schema, `client`, UI helpers); `./trellis` and `./schema` are that prelude
// too. React samples compile inside packages/react (which has React), the rest inside
// packages/client, Svelte components (the Svelte package's `@example` blocks in markup) inside packages/svelte
// with svelte-check. A block fenced ```ts no-check is skipped (say why next to it). Exits non-zero with the
// compiler's messages on failure.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportedNames, writeExamples } from "./docs-check/examples.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const preludePath = join(root, "scripts/docs-check/prelude.ts");
const prelude = readFileSync(preludePath, "utf8");
const contextPath = join(root, "scripts/docs-check/example-context.ts");
const preludeNames = [
  ...prelude.matchAll(/^export (?:declare )?(?:const|function) (\w+)|^export \{ ([^}]+) \}/gm),
].flatMap((match) => (match[1] !== undefined ? [match[1]] : match[2].split(",").map((name) => name.trim())));
// Inside a package, so that its dependencies (React for the React samples) resolve as its own do.
const targets = {
  client: join(root, "packages/client/.docs-check"),
  react: join(root, "packages/react/.docs-check"),
  svelte: join(root, "packages/svelte/.docs-check"),
};
const sources = {
  core: "packages/core/src/index.ts",
  client: "packages/client/src/index.ts",
  server: "packages/server/src/index.ts",
  react: "packages/react/src/index.ts",
  svelte: "packages/svelte/src/index.ts",
};

const files = { client: [], react: [], svelte: [] };
/** Whether a sample declares or imports `identifier` itself. */
const declaredIn = (code, identifier) =>
  new RegExp(
    `(?:const|let|function|class|interface|type)\\s+${identifier}\\b|import[^;]*\\b${identifier}\\b[^;]*from`,
  ).test(code);
for (const [target, out] of Object.entries(targets)) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "prelude.ts"), prelude);
  writeFileSync(join(out, "trellis.ts"), 'export * from "./prelude.js";\n');
  writeFileSync(join(out, "schema.ts"), 'export { schema } from "./prelude.js";\n');
  writeFileSync(join(out, "example-context.ts"), readFileSync(contextPath, "utf8"));
  // fast-check too, for the examples of core's law-test helpers.
  const paths = {
    ...Object.fromEntries(Object.entries(sources).map(([name, path]) => [`@trellis/${name}`, [path]])),
    "fast-check": ["packages/core/node_modules/fast-check"],
  };
  writeFileSync(
    join(out, "tsconfig.json"),
    JSON.stringify({
      extends: "../../../tsconfig.base.json",
      // Samples import types and values alike, as users' editors write them.
      compilerOptions: { noEmit: true, declaration: false, verbatimModuleSyntax: false, baseUrl: "../../..", paths },
      include: ["*.ts", "*.tsx", "*.svelte"],
    }),
  );
  void target;
}
// The guides, and each package's README (what npm shows).
const docs = [
  ...readdirSync(join(root, "docs"))
    .filter((file) => file.endsWith(".md"))
    .sort()
    .map((file) => `docs/${file}`),
  ...readdirSync(join(root, "packages"))
    .sort()
    .map((pkg) => `packages/${pkg}/README.md`),
];
for (const path of docs) {
  const text = readFileSync(join(root, path), "utf8");
  const name = path.replace(/^docs\//, "").replaceAll("/", "-");
  let index = 0;
  for (const match of text.matchAll(/^```(tsx|ts)([^\n]*)\n([\s\S]*?)^```/gm)) {
    if (match[2].includes("no-check")) continue;
    const code = match[3];
    const line = text.slice(0, match.index).split("\n").length + 1;
    const used = preludeNames.filter(
      (identifier) => new RegExp(`\\b${identifier}\\b`).test(code) && !declaredIn(code, identifier),
    );
    const imports = used.length === 0 ? "" : `import { ${used.join(", ")} } from "./prelude.js";\n`;
    const target = match[1] === "tsx" || code.includes("@trellis/react") ? "react" : "client";
    const file = join(targets[target], `${name.replace(/\.md$/, "")}-${++index}.${match[1]}`);
    // The header maps compiler messages back to the doc's line.
    writeFileSync(file, `// ${path}:${line}\n${imports}${code}\nexport {};\n`);
    files[target].push(file);
  }
}
// The `@example` blocks of the sources, with the same prelude and the stand-ins of example-context.ts.
const contextNames = [...exportedNames(readFileSync(contextPath, "utf8"))];
const examples = writeExamples({
  root,
  packages: ["core", "client", "server", "react", "svelte"],
  out: targets.client,
  reactOut: targets.react,
  svelteOut: targets.svelte,
  contextNames: [...contextNames, ...preludeNames.filter((name) => !contextNames.includes(name))],
  declared: declaredIn,
});
if (examples.strayMarkup.length > 0) {
  console.error(
    `docs: @example blocks in markup outside the Svelte package, which nothing compiles:\n  ${examples.strayMarkup.join("\n  ")}`,
  );
  process.exit(1);
}
try {
  for (const target of ["client", "react"]) {
    if (files[target].length > 0 || examples.files[target].length > 0)
      execFileSync(
        process.execPath,
        [join(root, "node_modules/typescript/bin/tsc"), "-p", join(targets[target], "tsconfig.json")],
        { stdio: "inherit" },
      );
  }
  if (examples.files.svelte.length > 0)
    execFileSync(
      process.execPath,
      [
        join(root, "packages/svelte/node_modules/svelte-check/bin/svelte-check"),
        "--workspace",
        targets.svelte,
        "--tsconfig",
        join(targets.svelte, "tsconfig.json"),
        "--fail-on-warnings",
        "--output",
        "human",
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
  const exampleCount = examples.files.client.length + examples.files.react.length + examples.files.svelte.length;
  console.log(
    `docs: ${files.client.length + files.react.length} code samples and ${exampleCount} TSDoc examples type-check` +
      ` (${examples.files.svelte.length} of them Svelte components)`,
  );
} catch {
  console.error("docs: code samples in docs/ do not type-check (each file's first line names the doc and line)");
  process.exit(1);
}

// Paths of the repository that the docs name in backticks (`packages/…`, `examples/…`) must exist,
// so a renamed file cannot leave a guide such as docs/architecture.md pointing nowhere.
const missing = [];
for (const path of docs) {
  const text = readFileSync(join(root, path), "utf8");
  for (const match of text.matchAll(/`((?:packages|examples|scripts|bench)\/[\w./*+-]+)`/g)) {
    const named = match[1];
    if (named.includes("*")) continue;
    if (!existsSync(join(root, named))) missing.push(`${path}: ${named}`);
  }
}
if (missing.length > 0) {
  console.error(`docs: paths named in the docs do not exist:\n  ${missing.join("\n  ")}`);
  process.exit(1);
}
