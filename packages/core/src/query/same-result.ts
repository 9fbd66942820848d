/**
 * Whether two results read the same to users: Dates by instant, arrays and plain objects by
 * content (a key holding `undefined` equals a missing key). Results share related documents (a
 * DAG, see `compileMaterializer`), so each pair of objects is compared once: the cost is linear
 * in the size of the DAG, not in the tree it unfolds to.
 *
 * @example
 * sameResult([{ at: new Date(1) }], [{ at: new Date(1) }]) // true
 */
export function sameResult(a: unknown, b: unknown): boolean {
  return resultComparer()(a, b);
}

/**
 * A {@link sameResult} that remembers the object pairs it compared across calls: for comparing
 * the documents of one result one by one, when they share related documents. Only for values
 * that are not mutated in between (result documents never are).
 *
 * @example
 * const live = registry.acquire(normalized);
 * const previous = live.result.value;
 * // …after a commit:
 * const current = live.result.value;
 * const same = resultComparer();
 * const isUnchanged = current.length === previous.length && current.every((doc, i) => same(doc, previous[i]));
 */
export function resultComparer(): (a: unknown, b: unknown) => boolean {
  // Outcomes of nested object pairs (not arrays); the outermost pair of a call is not
  // remembered, so comparing flat documents allocates nothing.
  let compared: Map<object, Map<object, boolean>> | undefined;

  const same = (a: unknown, b: unknown, isNested: boolean): boolean => {
    if (a === b) return true;
    if (a instanceof Date || b instanceof Date)
      return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
    // Arrays are not remembered: one is reached only through the object holding it, whose
    // pair is remembered (the array of a relation is its parent document's own).
    if (!isNested || Array.isArray(a)) return sameContent(a, b);
    let outcomes = (compared ??= new Map()).get(a);
    const known = outcomes?.get(b);
    if (known !== undefined) return known;
    const outcome = sameContent(a, b);
    // Stored once the pair is settled (false ones too): values never contain cycles, so a pair
    // cannot be met again while it is being compared.
    if (outcomes === undefined) compared.set(a, (outcomes = new Map()));
    outcomes.set(b, outcome);
    return outcome;
  };

  const sameContent = (a: object, b: object): boolean => {
    if (Array.isArray(a) || Array.isArray(b)) {
      if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) if (!same(a[i], b[i], true)) return false;
      return true;
    }
    const x = a as Record<string, unknown>;
    const y = b as Record<string, unknown>;
    for (const key of Object.keys(x)) if (!same(x[key], y[key], true)) return false;
    for (const key of Object.keys(y)) if (!(key in x) && y[key] !== undefined) return false;
    return true;
  };

  return (a, b) => same(a, b, false);
}
