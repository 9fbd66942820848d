import { decodeHlc } from "./hlc.js";
import { DELETED_FIELD, type Triple } from "./triples.js";

/**
 * The merge rules, as pure functions the store applies cell by cell.
 *
 * - Last writer wins per cell (a field, or one element of a set), ordered by HLC.
 * - Equal HLCs come from the same write, so the cell keeps what it has (idempotence); should
 *   two different values ever carry one HLC, the larger by {@link compareStoredValues} wins
 *   so every replica still picks the same one.
 * - Delete wins over everything: the store drops writes to a deleted entity, whatever their HLC.
 */

/**
 * Whether an incoming write replaces the current one of a cell.
 * `currentTicks` is -1 when the cell was never written.
 */
export function incomingWins(
  incomingTicks: number,
  incomingNode: string,
  incomingValue: unknown,
  currentTicks: number,
  currentNode: string,
  currentValue: unknown,
): boolean {
  if (incomingTicks !== currentTicks) return incomingTicks > currentTicks;
  if (incomingNode !== currentNode) return incomingNode > currentNode;
  return compareStoredValues(incomingValue, currentValue) > 0;
}

/** A total order on stored values, used only to break impossible ties deterministically. */
export function compareStoredValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  const left = JSON.stringify(a) ?? "";
  const right = JSON.stringify(b) ?? "";
  return left === right ? 0 : left < right ? -1 : 1;
}

/**
 * Merges two triple lists of one document (each as {@link TripleStore.documentTriples} gives
 * them) with the store's rules: what a store holding both would hold. Persistence uses it to
 * fold a document's new state into what another tab may have stored meanwhile.
 *
 * @example
 * const stored = store.documentTriples("todos", "t1");
 * const merged = mergeDocumentTriples(stored, triples); // cells of `triples` with later HLCs replace stored ones
 */
export function mergeDocumentTriples(stored: readonly Triple[], incoming: readonly Triple[]): Triple[] {
  let tombstone: Triple | undefined;
  const cells = new Map<string, Triple>();
  for (const triple of [...stored, ...incoming]) {
    if (triple.field === DELETED_FIELD) {
      // The earliest delete is kept, as the store keeps it.
      if (tombstone === undefined || triple.hlc < tombstone.hlc) tombstone = triple;
      continue;
    }
    const key = triple.element === undefined ? triple.field : `${triple.field}\u0000${triple.element}`;
    const current = cells.get(key);
    if (current === undefined || wins(triple, current)) cells.set(key, triple);
  }
  return tombstone === undefined ? [...cells.values()] : [tombstone];
}

function wins(incoming: Triple, current: Triple): boolean {
  const a = decodeHlc(incoming.hlc).data;
  const b = decodeHlc(current.hlc).data;
  if (a === undefined || b === undefined) return b === undefined && a !== undefined;
  return incomingWins(a.ticks, a.node, incoming.value, b.ticks, b.node, current.value);
}
