// Turns the `@example` blocks of the packages' TSDoc into modules for scripts/check-docs.mjs to
// type-check. A block may use, without declaring them: what its own file exports, what its package
// and @trellis/core export, what the docs' prelude offers (the guides' schema and client), and the
// stand-ins of example-context.ts (a store, a clock… for the examples of internal parts). An
// example in Svelte markup becomes a component, its `<script>` given `lang="ts"` and those
// imports, for svelte-check to type-check.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SOURCE = /\.(ts|tsx)$/;
const SKIPPED = /\.test(-d)?\.tsx?$|\.d\.ts$/;

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (SOURCE.test(entry.name) && !SKIPPED.test(entry.name)) yield path;
  }
}

/** Names a module exports (declarations and `export { … }` lists). */
export function exportedNames(text) {
  const names = new Set();
  for (const match of text.matchAll(
    /^export (?:declare )?(?:abstract )?(?:async )?(?:const|let|function\*?|class|interface|type|enum) (\w+)/gm,
  ))
    names.add(match[1]);
  for (const match of text.matchAll(/^export (?:type )?\{([^}]+)\}/gm))
    for (const part of match[1].split(",")) {
      const name = part
        .trim()
        .split(/\s+as\s+/)
        .pop()
        ?.replace(/^type\s+/, "");
      if (name) names.add(name);
    }
  return names;
}

/** Each `@example` block of a source file, with the line it starts on. */
export function examplesOf(text) {
  const examples = [];
  for (const comment of text.matchAll(/\/\*\*([\s\S]*?)\*\//g)) {
    const lines = comment[1].split("\n").map((line) => line.replace(/^\s*\* ?/, ""));
    const start = text.slice(0, comment.index).split("\n").length;
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].trimStart().startsWith("@example")) continue;
      const body = [];
      let j = i + 1;
      for (; j < lines.length && !/^\s*@\w/.test(lines[j]); j++) body.push(lines[j]);
      const code = body
        .filter((line) => !/^\s*```/.test(line))
        .join("\n")
        .trim();
      if (code !== "") examples.push({ code, line: start + i + 1 });
      i = j - 1;
    }
  }
  return examples;
}

const isMarkup = (code) => /^\s*</.test(code) || code.includes("<script");

/** An example in Svelte markup as a component: `imports` open its script, which is TypeScript. */
function svelteComponent(code, imports) {
  const script = /<script(\s[^>]*)?>/.exec(code);
  if (script === null) return `<script lang="ts">\n${imports}\n</script>\n${code}\n`;
  const attributes = script[1] ?? "";
  const open = /\blang=/.test(attributes) ? script[0] : `<script lang="ts"${attributes}>`;
  return `${code.slice(0, script.index)}${open}\n${imports}${code.slice(script.index + script[0].length)}\n`;
}

/**
 * Writes one module per example under `out` (React files' examples under `reactOut`, Svelte
 * markup as components under `svelteOut`), importing what each uses but does not declare;
 * returns the files written per target, and the markup examples outside the Svelte package,
 * which nothing could compile.
 */
export function writeExamples({ root, packages, out, reactOut, svelteOut, contextNames, declared }) {
  const files = { client: [], react: [], svelte: [] };
  const publicNames = (pkg) => exportedNames(readFileSync(join(root, "packages", pkg, "src/index.ts"), "utf8"));
  const core = publicNames("core");
  const strayMarkup = [];
  for (const pkg of packages) {
    for (const path of sourceFiles(join(root, "packages", pkg, "src"))) {
      const text = readFileSync(path, "utf8");
      if (!text.includes("@example")) continue;
      const own = exportedNames(text);
      // The svelte package is not mapped for the samples: its examples see core, and import the
      // client themselves.
      const pkgPublic = pkg === "core" || pkg === "svelte" ? new Set() : publicNames(pkg);
      const repoPath = relative(root, path);
      const isReact = pkg === "react";
      examplesOf(text).forEach(({ code, line }, index) => {
        const isSvelte = isMarkup(code);
        if (isSvelte && pkg !== "svelte") return void strayMarkup.push(`${repoPath}:${line}`);
        const dir = isReact ? reactOut : isSvelte ? svelteOut : out;
        // A name used as itself: not a property (`a.name`), but a spread (`...name`) counts.
        const uses = (name) => new RegExp(`(?<![\\w$]|(?<!\\.)\\.)${name}\\b`).test(code) && !declared(code, name);
        const fromOwn = [...own].filter(uses);
        const fromPackage = [...pkgPublic].filter((name) => !own.has(name) && uses(name));
        const fromCore = [...core].filter((name) => !own.has(name) && !pkgPublic.has(name) && uses(name));
        const taken = new Set([...own, ...pkgPublic, ...core]);
        const fromContext = contextNames.filter((name) => !taken.has(name) && uses(name));
        const ownModule = relative(dir, path).replace(/\.tsx?$/, ".js");
        const imports = [
          fromOwn.length > 0 ? `import { ${fromOwn.join(", ")} } from "${ownModule}";` : "",
          fromPackage.length > 0 ? `import { ${fromPackage.join(", ")} } from "@trellis/${pkg}";` : "",
          fromCore.length > 0 ? `import { ${fromCore.join(", ")} } from "@trellis/core";` : "",
          fromContext.length > 0 ? `import { ${fromContext.join(", ")} } from "./example-context.js";` : "",
        ]
          .filter(Boolean)
          .join("\n");
        const extension = isReact ? "tsx" : isSvelte ? "svelte" : "ts";
        const name = `example-${repoPath.replace(/^packages\//, "").replace(/[/.]/g, "-")}-${index + 1}.${extension}`;
        // An example's own relative imports name modules beside its source file.
        const besideSource = (text) =>
          text.replace(/from "(\.{1,2}\/[^"]+)"/, (_, specifier) => {
            const target = relative(dir, resolve(dirname(path), specifier));
            return `from "${target.startsWith(".") ? target : `./${target}`}"`;
          });
        if (isSvelte) {
          const component = svelteComponent(code.split("\n").map(besideSource).join("\n"), imports);
          writeFileSync(join(dir, name), `<!-- ${repoPath}:${line} -->\n${component}`);
          files.svelte.push(name);
          return;
        }
        // The body runs inside a function, so that an example may `return` or `await` as the code it
        // shows would; its own imports stay at the top.
        const lines = code.split("\n");
        const ownImports = lines.filter((text) => /^import\s/.test(text)).map(besideSource);
        const body = lines.filter((text) => !/^import\s/.test(text)).join("\n");
        writeFileSync(
          join(dir, name),
          `// ${repoPath}:${line}\n${[imports, ...ownImports].join("\n")}\nexport async function example() {\n${body}\n}\n`,
        );
        files[isReact ? "react" : "client"].push(name);
      });
    }
  }
  return { files, strayMarkup };
}
