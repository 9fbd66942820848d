import { CREATED_AT_FIELD, DELETED_FIELD, type Direction, type Triple } from "@trellis/core";
import type { StoredDocument } from "./storage.js";

/**
 * A key of the order index: a number (dates are their epoch milliseconds), or a string's first
 * 256 characters. Both sort in IndexedDB as the query engine sorts the values they come from
 * (numbers numerically, strings by UTF-16 code unit), and a cut string never sorts after its
 * whole value: key order agrees with value order wherever keys differ.
 */
export type OrderKey = number | string;

/** Longest string prefix the order index holds: keys stay small, ties of longer prefixes are read together. */
const MAX_KEY_STRING = 256;

/** A plain stored value's order key, or undefined for values the index leaves out (not a finite number or a string). */
export function orderKeyOf(value: unknown): OrderKey | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string") return value.length > MAX_KEY_STRING ? value.slice(0, MAX_KEY_STRING) : value;
  return undefined;
}

/**
 * The order index keys of a stored document, `[collection, field, key]`: one per plain field
 * holding a number or a string, `createdAt` included. A live document without a numeric
 * `createdAt` gets `-Infinity` for it, where the engine sorts its missing value, so every live
 * document is in the index by `createdAt`. None for a deleted document.
 */
export function orderKeys(document: {
  readonly collection: string;
  readonly triples: readonly Triple[];
}): [string, string, OrderKey][] {
  const keys: [string, string, OrderKey][] = [];
  let hasCreatedAt = false;
  for (const triple of document.triples) {
    if (triple.field === DELETED_FIELD) return [];
    if (triple.element !== undefined) continue;
    const key = orderKeyOf(triple.value);
    if (key === undefined) continue;
    if (triple.field === CREATED_AT_FIELD) hasCreatedAt = typeof key === "number";
    keys.push([document.collection, triple.field, key]);
  }
  if (!hasCreatedAt) keys.push([document.collection, CREATED_AT_FIELD, -Infinity]);
  return keys;
}

/**
 * A read of a collection's documents in the order of one field's values, through the order
 * index, until `limit` documents match, and then the rest of those tied with the last one on
 * that field (the engine breaks ties by what follows in `orderBy` and by id, which it does itself).
 * What it finds holds every document of a query's first `limit` results in that order.
 */
export interface OrderedRead {
  readonly field: string;
  readonly direction: Direction;
  /** The field's type: documents holding a value of another type in it read as `missing` says. */
  readonly type: "number" | "string";
  /**
   * Where documents without a value of `type` in the field sort: `"none"` (every live document
   * has one), `"last"` (after every value, in the read's direction) or `{ at }` (as that value:
   * the field's fallback). They are not in the index, so the read gives up (answers undefined)
   * when the documents it needs could include them.
   */
  readonly missing: "none" | "last" | { readonly at: OrderKey };
  readonly limit: number;
  /** Documents examined at most: past them the read gives up (a filter that matches few). */
  readonly maxExamined: number;
  /** Whether a document matches the query's filter (as the query engine decides). */
  readonly matches: (document: StoredDocument) => boolean;
}

/** What to do after an entry: read on, stop with what was found, or give up. */
export type ScanStep = "more" | "done" | "give up";

/**
 * The stopping rule of an {@link OrderedRead}, fed the index entries in order by each storage
 * backend, so both stop at the same place.
 *
 * @example
 * const scan = new OrderedScan({
 *   field: "n",
 *   direction: "desc",
 *   type: "number",
 *   missing: "last",
 *   limit: 1,
 *   maxExamined: 2_000,
 *   matches: () => true,
 * });
 * scan.offer(9, { collection: "todos", id: "t1", triples: [] }); // "more": the first match, ties may follow
 * scan.offer(7, { collection: "todos", id: "t2", triples: [] }); // "done"
 * scan.result(); // [t1]; undefined had it given up
 */
export class OrderedScan {
  private readonly found: StoredDocument[] = [];
  private examined = 0;
  /** The key of the `limit`-th match: the read ends past its ties. */
  private last: OrderKey | undefined;
  private step: ScanStep = "more";

  constructor(private readonly read: OrderedRead) {}

  /** Takes the next entry in the read's order. */
  offer(key: OrderKey, document: StoredDocument): ScanStep {
    if (this.step !== "more") return this.step;
    const { read } = this;
    if (this.last !== undefined && key !== this.last) return (this.step = "done");
    // Documents missing the field sort at `at`: every one the answer needs must sort strictly before.
    if (typeof read.missing === "object" && !this.isBefore(key, read.missing.at)) return (this.step = "give up");
    if (++this.examined > read.maxExamined) return (this.step = "give up");
    if (read.matches(document)) {
      this.found.push(document);
      if (this.found.length === read.limit) this.last = key;
    }
    return "more";
  }

  /** The documents found, or undefined if it gave up or the index ran out before the answer was certain. */
  result(): StoredDocument[] | undefined {
    if (this.step === "give up") return undefined;
    // Ran out short of `limit` matches: documents missing the field might match too, unless there are none.
    if (this.last === undefined && this.read.missing !== "none") return undefined;
    return this.found;
  }

  private isBefore(key: OrderKey, other: OrderKey): boolean {
    return this.read.direction === "asc" ? key < other : key > other;
  }
}

/**
 * An {@link OrderedRead} over documents in hand (memory storage's): in the order IndexedDB's
 * index gives, by key and then by id, both reversed for `"desc"`.
 *
 * @example
 * const todos = [{ collection: "todos", id: "t1", triples }];
 * const read = { field: "n", direction: "asc", type: "number", missing: "none", limit: 1, maxExamined: 100 } as const;
 * const found = scanDocuments(todos, { ...read, matches: () => true }); // undefined: it gave up
 */
export function scanDocuments(documents: Iterable<StoredDocument>, read: OrderedRead): StoredDocument[] | undefined {
  const entries: [OrderKey, StoredDocument][] = [];
  for (const document of documents)
    for (const [, field, key] of orderKeys(document))
      if (field === read.field && typeof key === read.type) entries.push([key, document]);
  entries.sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x.id < y.id ? -1 : 1));
  if (read.direction === "desc") entries.reverse();
  const scan = new OrderedScan(read);
  for (const [key, document] of entries) if (scan.offer(key, document) !== "more") break;
  return scan.result();
}
