// Type-checks the TypeScript samples in docs/*.md against the packages' sources: each ```ts
// block becomes a module that imports, from scripts/docs-check/prelude.ts, whatever it uses
// without declaring (the guides' schema, `client`, UI helpers). A block fenced ```ts no-check
// is skipped (say why next to it). Exits non-zero with the compiler's messages on failure.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Inside packages/client so that @trellis/core and @trellis/server resolve as the client's do.
const out = join(root, "packages/client/.docs-check");
const preludePath = join(root, "scripts/docs-check/prelude.ts");
const preludeNames = [...readFileSync(preludePath, "utf8").matchAll(/^export (?:declare )?(?:const|function) (\w+)|^export \{ ([^}]+) \}/gm)].flatMap((match) =>
  match[1] !== undefined ? [match[1]] : match[2].split(",").map((name) => name.trim()),
);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "prelude.ts"), readFileSync(preludePath, "utf8"));
const files = [];
for (const name of readdirSync(join(root, "docs")).filter((file) => file.endsWith(".md")).sort()) {
  const text = readFileSync(join(root, "docs", name), "utf8");
  let index = 0;
  for (const match of text.matchAll(/^```(ts|tsx)([^\n]*)\n([\s\S]*?)^```/gm)) {
    if (match[2].includes("no-check")) continue;
    const code = match[3];
    const line = text.slice(0, match.index).split("\n").length + 1;
    const declared = (identifier) => new RegExp(`(?:const|let|function|class|interface|type)\\s+${identifier}\\b|import[^;]*\\b${identifier}\\b[^;]*from`).test(code);
    const used = preludeNames.filter((identifier) => new RegExp(`\\b${identifier}\\b`).test(code) && !declared(identifier));
    const imports = used.length === 0 ? "" : `import { ${used.join(", ")} } from "./prelude.js";\n`;
    const file = join(out, `${name.replace(/\.md$/, "")}-${++index}.${match[1]}`);
    // The header maps compiler messages back to the doc's line.
    writeFileSync(file, `// docs/${name}:${line}\n${imports}${code}\nexport {};\n`);
    files.push(file);
  }
}
writeFileSync(
  join(out, "tsconfig.json"),
  JSON.stringify({
    extends: "../../../tsconfig.base.json",
    compilerOptions: { noEmit: true, declaration: false, baseUrl: "../../..", paths: { "@trellis/client": ["packages/client/src/index.ts"] } },
    include: ["*.ts", "*.tsx"],
  }),
);
try {
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(out, "tsconfig.json")], { stdio: "inherit" });
  console.log(`docs: ${files.length} code samples type-check`);
} catch {
  console.error("docs: code samples in docs/ do not type-check (each file's first line names the doc and line)");
  process.exit(1);
}
