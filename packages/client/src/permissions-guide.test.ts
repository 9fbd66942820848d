import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";

// Runs the "Testing your rules" sample of docs/permissions.md as written: a guide step no test
// runs is not known to work.

const DOC = fileURLToPath(new URL("../../../docs/permissions.md", import.meta.url));
const OUT = fileURLToPath(new URL("../.docs-run/", import.meta.url));

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(OUT, { recursive: true, force: true });
});

describe("docs/permissions.md", () => {
  it("runs the rules test of “Testing your rules” and prints what it says", async () => {
    const text = readFileSync(DOC, "utf8");
    const section = text.slice(text.indexOf("## Testing your rules"));
    const sample = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(sample).toBeDefined();
    mkdirSync(OUT, { recursive: true });
    const file = `${OUT}testing-rules.ts`;
    writeFileSync(file, `${sample}\nexport {};\n`);
    const printed: unknown[] = [];
    vi.spyOn(console, "log").mockImplementation((value: unknown) => void printed.push(value));
    await import(/* @vite-ignore */ file);
    expect(printed).toEqual(["UNAUTHORIZED", 0]);
  });
});
