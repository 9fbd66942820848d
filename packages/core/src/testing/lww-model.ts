/**
 * The reference model of the merge rules, written independently of the store: last writer wins
 * per cell (a field, or one element of a set) by HLC, and delete wins with the earliest
 * tombstone kept. The merge laws check the store against it; the client's convergence tests
 * check every replica and the server against it. Test support only; not exported from the
 * package.
 */
import { DELETED_FIELD, type Triple } from "../triples.js";

/** A total order of triples (cell, then HLC, then value), for comparing sets of triples. */
export function canonicalKey(triple: Triple): string {
  return JSON.stringify([triple.collection, triple.id, triple.field, triple.element ?? null, triple.hlc, triple.value]);
}

/** The winning write of one cell. */
export interface Register {
  readonly ticks: number;
  readonly node: string;
  readonly value: unknown;
  readonly triple: Triple;
}

/** The parts of an encoded HLC, read without the clock's own decoder. */
function parseHlc(hlc: string): { ticks: number; node: string } {
  return { ticks: parseInt(hlc.slice(0, 11), 36), node: hlc.slice(12) };
}

/** (ticks, node), then the value's JSON text as the last-resort tiebreak. */
function later(a: Register, b: Register): boolean {
  if (a.ticks !== b.ticks) return a.ticks > b.ticks;
  if (a.node !== b.node) return a.node > b.node;
  return (JSON.stringify(a.value) ?? "") > (JSON.stringify(b.value) ?? "");
}

/** A document of the model: its cells, its tombstone if deleted, and the largest ticks written to it. */
export interface ModelDoc {
  readonly collection: string;
  readonly id: string;
  readonly cells: Map<string, Register>;
  tombstone: Register | undefined;
  maxTicks: number;
}

/** Every document the changes touch, with the winning write of each cell and its tombstone. */
export function modelOf(changes: readonly Triple[]): Map<string, ModelDoc> {
  const docs = new Map<string, ModelDoc>();
  for (const triple of changes) {
    const key = `${triple.collection}/${triple.id}`;
    let doc = docs.get(key);
    if (doc === undefined) {
      docs.set(
        key,
        (doc = { collection: triple.collection, id: triple.id, cells: new Map(), tombstone: undefined, maxTicks: 0 }),
      );
    }
    const { ticks, node } = parseHlc(triple.hlc);
    const register: Register = { ticks, node, value: triple.value, triple };
    doc.maxTicks = Math.max(doc.maxTicks, ticks);
    if (triple.field === DELETED_FIELD) {
      // The earliest delete is the one every replica keeps.
      if (doc.tombstone === undefined || !later(register, doc.tombstone)) doc.tombstone = register;
      continue;
    }
    const cell = triple.element === undefined ? triple.field : `${triple.field}\u0000${triple.element}`;
    const current = doc.cells.get(cell);
    if (current === undefined || later(register, current)) doc.cells.set(cell, register);
  }
  return docs;
}

/** The triples a replica holds once it has received `changes`: each cell's winner, or a deleted document's tombstone alone. */
export function modelState(changes: readonly Triple[]): Triple[] {
  const triples: Triple[] = [];
  for (const doc of modelOf(changes).values()) {
    if (doc.tombstone !== undefined) {
      triples.push({
        collection: doc.collection,
        id: doc.id,
        field: DELETED_FIELD,
        value: true,
        hlc: doc.tombstone.triple.hlc,
      });
      continue;
    }
    for (const register of doc.cells.values()) triples.push(register.triple);
  }
  return triples.sort((a, b) => (canonicalKey(a) < canonicalKey(b) ? -1 : 1)).map((triple) => ({ ...triple }));
}
