import { idsGiven } from "@trellis/core";
import type { MemoryNeed } from "./persistence/working-set.js";

/**
 * What a batch's operations read (what must be in memory before it runs): the documents its
 * writes by id name, and whole collections for its `*Many` writes.
 *
 * @example
 * batchNeeds([{ kind: "delete", collection: "todos", id: "t1" }]); // [{ collection: "todos", ids: ["t1"] }]
 */
export function batchNeeds(operations: unknown): MemoryNeed[] {
  const ids = new Map<string, Set<string> | undefined>();
  if (!Array.isArray(operations)) return [];
  for (const operation of operations) {
    const { collection, kind, id, fields, documents } = (operation ?? {}) as Record<string, unknown>;
    if (typeof collection !== "string") continue;
    if (!ids.has(collection)) ids.set(collection, new Set());
    const named = ids.get(collection);
    if (kind === "create") for (const given of idsGiven([fields])) named?.add(given);
    else if (kind === "createMany") for (const given of idsGiven(documents)) named?.add(given);
    else if (typeof kind === "string" && kind.endsWith("Many")) ids.set(collection, undefined);
    else if (typeof id === "string") named?.add(id);
  }
  return [...ids].map(([collection, named]) => ({ collection, ids: named && [...named] }));
}
