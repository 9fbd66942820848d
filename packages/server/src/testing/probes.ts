/**
 * Test support for the hostile-input suites (not exported from the package): what a server
 * process holds (memory, descriptors), and well-behaved bystanders that prove it still serves.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Triple } from "@trellis/core";
import { expect } from "vitest";
import { connect, documentTriples, nextId, query, type RawSocket, writer } from "./raw-socket.js";

/** Resident memory of a process, in MiB (Linux). */
export function residentMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Open file descriptors of a process (Linux). */
export function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** A well-behaved user of one app: subscribed to its todos, writing now and then. */
export interface Bystander {
  readonly appId: string;
  /** Its subscribed connection (kept open across tests). */
  readonly watcher: RawSocket;
  /** A fresh write from a fresh connection reaches the subscribed watcher; every write it made is stored. */
  check(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects a bystander to `appId` of the server at `url`: a watcher subscribed to every todo, and
 * a writer whose every acknowledged write must reach the watcher.
 */
export async function bystander(url: string, appId: string, token?: string): Promise<Bystander> {
  const hlc = writer(`bystander-${appId}`);
  const hello = token === undefined ? {} : { token };
  let watcher = await subscribedWatcher(url, appId, hello);
  const written: Triple[] = [];
  return {
    appId,
    get watcher() {
      return watcher;
    },
    check: async () => {
      // A watcher dropped on purpose by the server (too slow, say) is not what this checks.
      if (watcher.ws.readyState !== watcher.ws.OPEN) watcher = await subscribedWatcher(url, appId, hello);
      const id = nextId("bystander");
      const triples = documentTriples("todos", id, { title: id }, hlc);
      const pusher = await connect(url, appId, hello);
      const batchId = nextId("batch");
      pusher.send({ type: "push", batchId, triples });
      await pusher.next("ack", (ack) => ack.batchId === batchId);
      await watcher.next("changes", (message) => message.triples.some((triple) => triple.id === id));
      await pusher.close();
      written.push(...triples);
      const stored = await fetch(`${url}/v1/query`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        body: JSON.stringify({ appId, query: query("todos"), cursor: null }),
      });
      const ids = new Set(((await stored.json()) as { triples: Triple[] }).triples.map((triple) => triple.id));
      for (const triple of written) expect(ids.has(triple.id), `${appId} lost ${triple.id}`).toBe(true);
    },
    close: () => watcher.close(),
  };
}

async function subscribedWatcher(url: string, appId: string, hello: { readonly token?: string }): Promise<RawSocket> {
  const watcher = await connect(url, appId, hello);
  watcher.send({ type: "subscribe", queryId: "all", query: query("todos"), cursor: null });
  await watcher.next("snapshot");
  return watcher;
}

/** A JSON array nested `depth` deep around `leaf`, as text (built without recursion). */
export function nestedJson(depth: number, leaf = "1"): string {
  return `${"[".repeat(depth)}${leaf}${"]".repeat(depth)}`;
}
