/**
 * Runs the shell samples of docs/ as a reader types them, against a real `trellis-server`: the
 * commands of ```sh blocks in one bash session (so an `export` carries over to the next step),
 * each checked against the `# …` lines the doc shows under it. Test support only; not exported
 * from the package.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";

/** One command of a ```sh block and the output the doc shows for it. */
export interface DocCommand {
  /** As written, continuation lines and trailing comments included. */
  readonly command: string;
  /** The `# ` lines right below it, without the `# `: what it prints. Empty when the doc shows none. */
  readonly expected: readonly string[];
}

/** The text of a `## heading` section, up to the next `## `. Throws if the doc has no such section. */
export function markdownSection(text: string, heading: string): string {
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`no section "## ${heading}"`);
  const end = text.indexOf("\n## ", start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** The bodies of the blocks fenced with ```language in `text`, in order. */
export function fencedBlocks(text: string, language: string): string[] {
  return codeBlocks(text)
    .filter((block) => block.language === language)
    .map((block) => block.body);
}

/** Every fenced block of `text`, in order, with what its fence says after the backticks (`ts`, `ts no-check`, `""`). */
export function codeBlocks(text: string): Array<{ readonly language: string; readonly body: string }> {
  return [...text.matchAll(/^```([^\n]*)\n([\s\S]*?)^```/gm)].map((match) => ({
    language: match[1]!.trim(),
    body: match[2]!,
  }));
}

/** The commands of a shell block, each with the output lines shown below it. */
export function shellCommands(block: string): DocCommand[] {
  const commands: Array<{ command: string; expected: string[] }> = [];
  let isContinued = false;
  for (const line of block.split("\n")) {
    if (isContinued) commands.at(-1)!.command += `\n${line}`;
    else if (line.startsWith("#")) {
      if (commands.length === 0) throw new Error(`output shown before any command: ${line}`);
      commands.at(-1)!.expected.push(line.replace(/^# ?/, ""));
    } else if (line.trim() !== "") commands.push({ command: line, expected: [] });
    isContinued = line.endsWith("\\");
  }
  return commands;
}

/** What the doc's sample servers and example ids stand for. */
export interface DocStandIns {
  /** URLs the doc's commands and output name for the server (the default `http://127.0.0.1:8787` among them). */
  readonly serverUrls: readonly string[];
  /** Ids the doc shows in output (an app's, a key's): each stands for the id the step really printed. */
  readonly exampleIds: readonly string[];
}

export interface DocSessionOptions extends DocStandIns {
  /** The built `trellis-server` CLI (packages/server/dist/cli.js). */
  readonly cli: string;
  /** The reader's working folder: `./data` and `rules.json` are there. */
  readonly cwd: string;
  /** Environment variables the doc takes as already set. */
  readonly env?: Readonly<Record<string, string>>;
  /** How long a command may run before it counts as never ending; 15 s unless given. */
  readonly stepTimeoutMs?: number;
}

/** One reader's shell, following a doc's steps. */
export interface DocSession {
  /** The server the steps started ("http://127.0.0.1:<port>"); undefined until one has. */
  readonly url: string | undefined;
  /** The ids the doc's example ids stood for, as the steps printed them. */
  readonly ids: ReadonlyMap<string, string>;
  /** Runs a command: it must exit 0 and print what the doc shows; resolves with what it printed. */
  run(step: DocCommand): Promise<string>;
  /** The value of a variable of the shell (one the steps exported, say). */
  variable(name: string): Promise<string>;
  /** Stops the server the steps started (SIGTERM, then waits) and ends the shell. */
  close(): Promise<void>;
}

const ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/;
/** The server's log lines (one JSON object a line, see docs/server.md): not what a doc shows as output. */
const LOG_LINE = /^\{"time":/;

/**
 * A bash session in which `npx trellis-server` is the built CLI: the server command runs in the
 * background on a free port (`--port 0` added: the last `--port` wins) and returns once it listens,
 * printing what it printed so far; `apps` commands get `--url` of that server added; any other
 * `npx <tool>` runs the folder's own node_modules/.bin/<tool>, as npx does. The doc's
 * server URLs are that server in the commands (curl's) and in the output, and its example ids
 * the real ones once a step printed them.
 *
 * @example
 * import { readFileSync } from "node:fs";
 * const section = markdownSection(readFileSync("docs/getting-started.md", "utf8"), "Going to production");
 * const session = startDocSession({
 *   cli: "packages/server/dist/cli.js",
 *   cwd: "/tmp/reader",
 *   serverUrls: ["http://127.0.0.1:8787"],
 *   exampleIds: ["Qd3w8y0jZxk1HqVc"],
 * });
 * for (const block of fencedBlocks(section, "sh")) for (const step of shellCommands(block)) await session.run(step);
 * await session.close();
 */
export function startDocSession(options: DocSessionOptions): DocSession {
  const marker = `__step_done_${randomBytes(8).toString("hex")}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: options.cwd,
    LANG: "C.UTF-8",
    ...options.env,
  };
  const shell: ChildProcessWithoutNullStreams = spawn("bash", ["--noprofile", "--norc"], {
    cwd: options.cwd,
    env,
    detached: true,
  });
  let output = "";
  /** A step ran past its time and still holds the shell. */
  let isStuck = false;
  let wake: (() => void) | undefined;
  shell.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
    wake?.();
  });
  const exited = new Promise<void>((resolve) => shell.once("exit", () => resolve()));
  void exited.then(() => wake?.());
  const send = (script: string) => shell.stdin.write(`${script}\n`);
  send(`exec 2>&1
TRELLIS_DOC_NODE=${quote(process.execPath)}
TRELLIS_DOC_CLI=${quote(options.cli)}
npx() {
  if [ "$1" != trellis-server ] && [ -x "node_modules/.bin/$1" ]; then local bin="node_modules/.bin/$1"; shift; "$bin" "$@"; return; fi
  if [ "$1" != trellis-server ]; then echo "npx $1: only trellis-server and the project's own tools are mapped to commands here" >&2; return 127; fi
  shift
  if [ "$1" = apps ]; then "$TRELLIS_DOC_NODE" "$TRELLIS_DOC_CLI" "$@" --url "$TRELLIS_DOC_URL"; return; fi
  # Made before the server starts: the background job creates its file only once it runs.
  : > .trellis-server.log
  "$TRELLIS_DOC_NODE" "$TRELLIS_DOC_CLI" "$@" --port 0 >> .trellis-server.log 2>&1 &
  TRELLIS_DOC_SERVER_PID=$!
  until grep -q "^Trellis sync server listening on " .trellis-server.log; do
    kill -0 "$TRELLIS_DOC_SERVER_PID" 2>/dev/null || { cat .trellis-server.log; return 1; }
    sleep 0.02
  done
  cat .trellis-server.log
  TRELLIS_DOC_URL=$(sed -n "s/^Trellis sync server listening on //p" .trellis-server.log)
}`);

  /** Runs a script in the session (its stdin empty); resolves with what it printed and its exit status. */
  const execute = async (
    script: string,
    timeoutMs = options.stepTimeoutMs ?? 15_000,
  ): Promise<{ printed: string; status: number }> => {
    const done = new RegExp(`\\n${marker} (\\d+)\\n`);
    send(`{\n${script}\n} < /dev/null\nprintf '\\n${marker} %d\\n' "$?"`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = done.exec(output);
      if (match) {
        const printed = output.slice(0, match.index);
        output = output.slice(match.index + match[0].length);
        return { printed, status: Number(match[1]) };
      }
      if (shell.exitCode !== null)
        throw new Error(`the shell ended while running:\n${script}\nafter printing:\n${output}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        isStuck = true;
        throw new Error(`no end within ${timeoutMs} ms of:\n${script}\nafter printing:\n${output}`);
      }
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, remaining);
      });
      clearTimeout(timer);
      wake = undefined;
    }
  };

  let url: string | undefined;
  const ids = new Map<string, string>();
  const standIns: DocStandIns = options;

  return {
    get url() {
      return url;
    },
    ids,
    async run(step) {
      const command = commandFor(step.command, standIns, ids, url);
      const { printed, status } = await execute(command);
      if (status !== 0) throw new Error(`\`${command}\` exited ${status}:\n${printed}`);
      url ??= /^Trellis sync server listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(printed)?.[1];
      if (step.expected.length > 0) {
        const shown = printed
          .split("\n")
          .filter((line) => !LOG_LINE.test(line))
          .join("\n");
        const pattern = expectedPattern(step.expected.join("\n"), standIns, ids, url);
        const match = pattern.regex.exec(collapse(shown));
        if (!match)
          throw new Error(`\`${command}\` printed:\n${shown}\nwhere the doc shows:\n${step.expected.join("\n")}`);
        for (const [example, group] of pattern.captures) ids.set(example, match.groups![group]!);
      }
      return printed;
    },
    async variable(name) {
      return (await execute(`printf '%s' "$${name}"`)).printed;
    },
    async close() {
      // The shell leads a process group of its own: a stuck step goes with everything else it started.
      if (isStuck && shell.exitCode === null) process.kill(-shell.pid!, "SIGKILL");
      // The server is the shell's child: the shell stops it and waits for its exit.
      else if (shell.exitCode === null) {
        await execute(
          `if [ -n "$TRELLIS_DOC_SERVER_PID" ]; then kill "$TRELLIS_DOC_SERVER_PID"; wait "$TRELLIS_DOC_SERVER_PID"; fi`,
        );
        shell.stdin.end();
      }
      await exited;
    },
  };
}

/** A doc's command as it runs here: the doc's server URLs are the test's, its example ids the real ones. */
function commandFor(
  command: string,
  standIns: DocStandIns,
  ids: ReadonlyMap<string, string>,
  url: string | undefined,
): string {
  let runnable = command;
  for (const serverUrl of standIns.serverUrls) if (url !== undefined) runnable = runnable.replaceAll(serverUrl, url);
  for (const example of standIns.exampleIds) {
    if (!runnable.includes(example)) continue;
    const real = ids.get(example);
    if (real === undefined)
      throw new Error(`\`${command}\` names ${example} before any step printed the id it stands for`);
    runnable = runnable.replaceAll(example, real);
  }
  return runnable;
}

/**
 * A regular expression for what a command prints, from what the doc shows: whitespace runs are
 * one space, `…` anything, a time or a millisecond count any such, the doc's server URLs the
 * test's; an example id the real one, or, the first time it is shown, any id (captured).
 */
function expectedPattern(
  expected: string,
  standIns: DocStandIns,
  ids: ReadonlyMap<string, string>,
  url: string | undefined,
): { regex: RegExp; captures: Map<string, string> } {
  const alternatives = [...standIns.exampleIds, ...standIns.serverUrls].map(escape).join("|");
  const token = new RegExp(`(${alternatives})|(…)|(${ISO_TIME.source})|(\\d{10,})`, "g");
  const captures = new Map<string, string>();
  const shown = collapse(expected);
  let source = "";
  let last = 0;
  for (const match of shown.matchAll(token)) {
    source += escape(shown.slice(last, match.index));
    last = match.index + match[0].length;
    const [, name, ellipsis, time] = match;
    if (ellipsis !== undefined) source += ".*?";
    else if (time !== undefined) source += ISO_TIME.source;
    else if (name === undefined) source += "\\d+";
    else if (standIns.serverUrls.includes(name)) source += escape(url ?? name);
    else if (ids.has(name)) source += escape(ids.get(name)!);
    else if (captures.has(name)) source += `\\k<${captures.get(name)}>`;
    else {
      captures.set(name, `id${captures.size}`);
      source += `(?<${captures.get(name)}>[A-Za-z0-9_-]{16})`;
    }
  }
  source += escape(shown.slice(last));
  return { regex: new RegExp(`^${source}$`), captures };
}

function collapse(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function quote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}
