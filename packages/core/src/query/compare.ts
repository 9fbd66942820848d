/**
 * The total order of comparable values: undefined first, then booleans (false before true),
 * numbers, strings (by UTF-16 code unit), anything else. Within one field only one type and
 * undefined occur; the type ranks make the order total anyway.
 */
export function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  const rankA = rank(a);
  const rankB = rank(b);
  if (rankA !== rankB) return rankA - rankB;
  if (rankA === OTHER) return 0;
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

const OTHER = 4;

function rank(value: unknown): number {
  switch (typeof value) {
    case "undefined":
      return 0;
    case "boolean":
      return 1;
    case "number":
      return 2;
    case "string":
      return 3;
    default:
      return OTHER;
  }
}
