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
