/**
 * A sum of doubles kept exactly, as a short list of non-overlapping partials (Shewchuk's
 * algorithm, as in Python's `math.fsum`), and read correctly rounded. Removing a value is adding
 * its negation, so a live aggregate that adds and removes values in any order reads exactly what
 * a fresh sum of the remaining values reads: no drift, no dependence on the order of writes.
 * Values must be finite; a sum beyond ±1.8e308 is not representable either way.
 *
 * @example
 * const sum = new ExactSum();
 * sum.add(1e16); sum.add(1); sum.add(-1e16);
 * sum.value(); // 1 (a plain `+` gives 0)
 */
export class ExactSum {
  private readonly partials: number[] = [];

  /** Adds `x` (subtract with `add(-x)`). */
  add(x: number): void {
    const partials = this.partials;
    let kept = 0;
    for (let i = 0; i < partials.length; i++) {
      let y = partials[i]!;
      if (Math.abs(x) < Math.abs(y)) {
        const swap = x;
        x = y;
        y = swap;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[kept++] = lo;
      x = hi;
    }
    // Shrink only when needed: setting an array's length is slow even when it does not change.
    if (kept + 1 < partials.length) partials.length = kept + 1;
    partials[kept] = x;
  }

  /** The exact sum rounded to the nearest double (ties to even); 0 when empty. */
  value(): number {
    const partials = this.partials;
    let n = partials.length;
    if (n === 0) return 0;
    let hi = partials[--n]!;
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = partials[--n]!;
      hi = x + y;
      lo = y - (hi - x);
      if (lo !== 0) break;
    }
    // Half-way cases: a lower partial of the same sign as `lo` tips the rounding away from hi.
    if (n > 0 && ((lo < 0 && partials[n - 1]! < 0) || (lo > 0 && partials[n - 1]! > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    // -0 and 0 are one value to users and to SQL.
    return hi === 0 ? 0 : hi;
  }
}
