import type { Triple } from "@trellis/core";

/**
 * A snapshot's triples cut into parts of at least `size` triples, each ending at a document's
 * end (a document's triples are consecutive), with their document counts; the last part holds
 * the rest (one part when all fit).
 *
 * @example
 * ```ts
 * const parts = snapshotParts(triples, 20_000);
 * const documents = parts.reduce((sum, part) => sum + part.documents, 0);
 * ```
 */
export function snapshotParts(
  triples: readonly Triple[],
  size: number,
): Array<{ triples: Triple[]; documents: number }> {
  const parts: Array<{ triples: Triple[]; documents: number }> = [];
  let current: Triple[] = [];
  let documents = 0;
  for (let index = 0; index < triples.length; index++) {
    const triple = triples[index]!;
    current.push(triple);
    const next = triples[index + 1];
    const endsDocument = next === undefined || next.id !== triple.id || next.collection !== triple.collection;
    if (!endsDocument) continue;
    documents++;
    if (current.length >= size && next !== undefined) {
      parts.push({ triples: current, documents });
      current = [];
      documents = 0;
    }
  }
  parts.push({ triples: current, documents });
  return parts;
}
