/**
 * A small request/answer channel between the runner and its child processes (Node's `fork`
 * IPC), plus a clock that two processes can compare: epoch milliseconds from
 * `performance.timeOrigin + performance.now()` (microsecond resolution), corrected by an offset
 * the runner measures per child (the middle of the fastest of many IPC round trips).
 */
import { type ChildProcess, fork } from "node:child_process";

/** Milliseconds since the epoch, with sub-millisecond resolution; comparable across processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

type Handler = (args: never) => unknown;

interface Request {
  readonly id: number;
  readonly op: string;
  readonly args: unknown;
}

interface Answer {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: string;
}

interface Event {
  readonly event: string;
  readonly data: unknown;
}

/** The runner's handle on one child process. */
export interface Child {
  /** Runs `op` in the child; rejects with the child's error message. */
  call<T = unknown>(op: string, args?: unknown): Promise<T>;
  /** Listens to events the child emits. */
  on(event: string, listener: (data: never) => void): void;
  /** The child's clock minus the runner's (ms): a child time `t` is `t - offsetMs` on the runner's clock. */
  readonly offsetMs: number;
  /** The round trip of the fastest calibration call (ms): the offset is exact to about half of it. */
  readonly calibrationRttMs: number;
  close(): Promise<void>;
}

/**
 * Forks `modulePath` (which calls {@link serve}) and measures its clock offset.
 *
 * @example
 * const host = await spawnChild(new URL("./client-host.js", import.meta.url));
 * await host.call("open", { … });
 */
export async function spawnChild(modulePath: URL, execArgv: readonly string[] = []): Promise<Child> {
  const child: ChildProcess = fork(modulePath, [], {
    execArgv: [...execArgv],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const listeners = new Map<string, Array<(data: never) => void>>();
  let nextId = 0;
  let exited = false;
  child.on("message", (message: Answer | Event) => {
    if ("event" in message) {
      for (const listener of listeners.get(message.event) ?? []) listener(message.data as never);
      return;
    }
    const pending = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error !== undefined) pending?.reject(new Error(message.error));
    else pending?.resolve(message.result);
  });
  const done = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = true;
      for (const pending of waiting.values())
        pending.reject(new Error(`${modulePath.pathname} exited (${signal ?? code})`));
      waiting.clear();
      resolve();
    }),
  );
  const call = <T>(op: string, args?: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (exited) return reject(new Error(`${modulePath.pathname} has exited`));
      const id = nextId++;
      waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ id, op, args } satisfies Request);
    });

  let offsetMs = 0;
  let calibrationRttMs = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 60; i++) {
    const sent = epochMs();
    const at = await call<number>("clock");
    const back = epochMs();
    if (back - sent < calibrationRttMs) {
      calibrationRttMs = back - sent;
      offsetMs = at - (sent + back) / 2;
    }
  }
  return {
    call,
    on: (event, listener) => listeners.set(event, [...(listeners.get(event) ?? []), listener]),
    offsetMs,
    calibrationRttMs,
    close: async () => {
      if (!exited) child.kill("SIGTERM");
      await done;
    },
  };
}

/**
 * The child side: answers the runner's calls with `handlers` (and `clock` for calibration).
 * Returns `emit`, which sends an event to the runner.
 *
 * @example
 * const emit = serve({ open: async (args: OpenArgs) => … });
 */
export function serve(handlers: Record<string, Handler>): (event: string, data?: unknown) => void {
  const all: Record<string, Handler> = { ...handlers, clock: () => epochMs() };
  process.on("message", (message: Request) => {
    const handler = Object.hasOwn(all, message.op) ? all[message.op]! : undefined;
    const answer = (body: Omit<Answer, "id">) => process.send!({ id: message.id, ...body });
    if (handler === undefined) return answer({ error: `unknown op "${message.op}"` });
    Promise.resolve()
      .then(() => handler(message.args as never))
      .then(
        (result) => answer({ result }),
        (error: unknown) => answer({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
  // The runner's exit closes the channel: leave with it, whatever sockets or timers remain.
  process.on("disconnect", () => process.exit(0));
  process.on("SIGTERM", () => process.exit(0));
  return (event, data) => process.send!({ event, data } satisfies Event);
}
