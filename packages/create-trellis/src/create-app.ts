import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** What {@link createApp} writes: a folder, from which template, with which packages. */
export interface CreateAppOptions {
  /** The app's folder: created if missing, refused if it has files. Its name names the app. */
  readonly directory: string;
  /**
   * One of {@link templateNames}: `"react"` (Vite + React, the default), `"nextjs"` (Next.js App
   * Router) or `"sveltekit"` (SvelteKit, adapter-node).
   */
  readonly template?: string;
  /**
   * A folder of `npm run pack` tarballs (`trellis-core-0.1.0.tgz`, …): the app then depends on
   * them by `file:` path instead of on the npm registry's `@trellis/*`.
   */
  readonly tarballs?: string;
}

/** The app {@link createApp} wrote. */
export interface CreatedApp {
  /** The app's folder, absolute. */
  readonly directory: string;
  /** The package name and app id the template was given, from the folder's name. */
  readonly name: string;
  /** The files written, relative to `directory`, sorted. */
  readonly files: readonly string[];
}

// dist/*.js and src/*.ts both sit one folder below the package root, beside templates/.
const TEMPLATES = fileURLToPath(new URL("../templates/", import.meta.url));
const OWN_VERSION: string = JSON.parse(
  readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8"),
).version;
// npm does not publish files named .gitignore, so templates carry them under another name.
const RENAMED: Readonly<Record<string, string>> = { _gitignore: ".gitignore" };

/**
 * The templates this package ships: `["nextjs", "react", "sveltekit"]`.
 *
 * @example
 * if (!templateNames().includes(name)) console.error(`No template ${name}.`);
 */
export function templateNames(): string[] {
  return readdirSync(TEMPLATES, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/**
 * Writes a new app from a template: its files copied with the app's name put in, and a
 * package.json naming this version of the `@trellis/*` packages (or the given tarballs). Throws
 * an `Error` whose message says what to do when the folder has files, the template does not
 * exist or a tarball is missing.
 *
 * @example
 * const app = createApp({ directory: "my-app", template: "react" });
 * console.log(`wrote ${app.files.length} files to ${app.directory}`);
 */
export function createApp(options: CreateAppOptions): CreatedApp {
  const template = options.template ?? "react";
  const names = templateNames();
  if (!names.includes(template))
    throw new Error(`There is no template "${template}"; choose one of: ${names.join(", ")}.`);
  const directory = resolve(options.directory);
  if (existsSync(directory)) {
    if (!statSync(directory).isDirectory())
      throw new Error(`${options.directory} is a file; choose a new folder name.`);
    if (readdirSync(directory).length > 0)
      throw new Error(`${options.directory} is not empty; choose a new folder name, or empty this one first.`);
  }
  const name = appName(basename(directory));
  const tarballs = options.tarballs === undefined ? undefined : resolve(options.tarballs);
  const source = join(TEMPLATES, template);
  const files = listFiles(source);
  // Every problem is found before the first file is written.
  const manifest = files.includes("package.json")
    ? packageJson(readFileSync(join(source, "package.json"), "utf8"), name, tarballs)
    : undefined;

  const written: string[] = [];
  for (const file of files) {
    const target = file
      .split("/")
      .map((part) => RENAMED[part] ?? part)
      .join("/");
    const text =
      file === "package.json" && manifest !== undefined
        ? manifest
        : fill(readFileSync(join(source, file), "utf8"), name);
    mkdirSync(join(directory, target, ".."), { recursive: true });
    writeFileSync(join(directory, target), text);
    written.push(target);
  }
  return { directory, name, files: written.sort() };
}

/** A folder's name as an npm package name and Trellis app id: lowercase letters, digits and dashes. */
function appName(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64);
  return name === "" ? "trellis-app" : name;
}

function fill(text: string, name: string): string {
  return text.replaceAll("{{name}}", name).replaceAll("{{version}}", OWN_VERSION);
}

function listFiles(folder: string, prefix = ""): string[] {
  return readdirSync(join(folder, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    return entry.isDirectory() ? listFiles(folder, path) : [path];
  });
}

/** The template's package.json with the name put in and, given tarballs, `file:` ranges for `@trellis/*`. */
function packageJson(text: string, name: string, tarballs: string | undefined): string {
  const manifest = JSON.parse(fill(text, name)) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  if (tarballs === undefined) return `${JSON.stringify(manifest, null, 2)}\n`;
  if (!existsSync(tarballs) || !statSync(tarballs).isDirectory())
    throw new Error(
      `${tarballs} is not a folder: pass the dist-packages folder that \`npm run pack\` writes in the Trellis repository.`,
    );
  const found = readdirSync(tarballs);
  for (const ranges of [manifest.dependencies ?? {}, manifest.devDependencies ?? {}]) {
    for (const dependency of Object.keys(ranges)) {
      if (!dependency.startsWith("@trellis/")) continue;
      const pattern = new RegExp(`^trellis-${dependency.slice("@trellis/".length)}-\\d+\\.\\d+\\.\\d+.*\\.tgz$`);
      const matches = found.filter((file) => pattern.test(file));
      if (matches.length !== 1) {
        const problem =
          matches.length === 0
            ? `has no tarball of ${dependency}`
            : `has several tarballs of ${dependency} (${matches.join(", ")})`;
        throw new Error(
          `${relative(process.cwd(), tarballs) || "."} ${problem}: run \`npm run pack\` in the Trellis repository and pass its dist-packages folder.`,
        );
      }
      ranges[dependency] = `file:${join(tarballs, matches[0]!)}`;
    }
  }
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
