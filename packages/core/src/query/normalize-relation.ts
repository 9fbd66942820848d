import { type DatabaseResult, fail, ok } from "../errors.js";
import type { CollectionSpec } from "../schema/types.js";
import type { NormalizedQuery, NormalizedRelation, RelatedFilter } from "./normalized-query.js";

/** Relations may nest this deep; deeper selections are almost always a mistake (or a cycle). */
const MAX_DEPTH = 8;

type Normalize = (
  collection: CollectionSpec,
  input: unknown,
  collections: Readonly<Record<string, CollectionSpec>> | undefined,
  depth: number,
) => DatabaseResult<NormalizedQuery>;

/** Whether a `fields` entry is a nested query (a relation) rather than `true`/`false`. */
export function isNestedQuery(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(collection: string, message: string, field: string) {
  return fail("VALIDATION", `${collection} query: ${message}`, { field });
}

/**
 * Resolves a relation selected in `fields`:
 * - a `t.ref` / `t.refMany` field of the parent with a nested query is a forward relation
 *   (one document, or an array);
 * - an entity name is a reverse relation: the documents of that entity whose ref field points
 *   at the parent. When several of its fields point back, the nested query names one with `via`.
 */
export function normalizeRelation(
  parent: CollectionSpec,
  name: string,
  nested: unknown,
  collections: Readonly<Record<string, CollectionSpec>> | undefined,
  depth: number,
  normalize: Normalize,
): DatabaseResult<NormalizedRelation> {
  const where = `fields.${name}`;
  if (collections === undefined)
    return invalid(parent.name, `${where}: relations need the schema's collections.`, name);
  if (depth + 1 > MAX_DEPTH) return invalid(parent.name, `${where}: relations nest at most ${MAX_DEPTH} deep.`, name);
  const { via, ...query } = nested as { via?: unknown };
  const link = resolveLink(parent, name, via, collections);
  if (typeof link === "string") return invalid(parent.name, `${where}${link}`, name);
  const normalized = normalize(collections[link.collection]!, query, collections, depth + 1);
  if (normalized.error) return normalized;
  const cardinality = link.direction === "forward" && link.linkSpec.type === "ref" ? "one" : "many";
  return ok({
    name,
    cardinality,
    direction: link.direction,
    link: link.link,
    linkSpec: link.linkSpec,
    query: normalized.data,
  });
}

/** How a `fields` or `where` key reaches another collection, or what is wrong with it (a message tail). */
export function resolveLink(
  parent: CollectionSpec,
  key: string,
  via: unknown,
  collections: Readonly<Record<string, CollectionSpec>>,
): Pick<RelatedFilter, "direction" | "link" | "linkSpec" | "collection"> | string {
  const field = Object.hasOwn(parent.fields, key) ? parent.fields[key] : undefined;
  if (field !== undefined) {
    if (field.type !== "ref" && field.type !== "refMany")
      return ` is a ${field.type} field; only ref and refMany fields take a nested query.`;
    if (via !== undefined) return `.via only applies to reverse relations.`;
    return { direction: "forward", link: key, linkSpec: field, collection: field.target! };
  }
  const target = Object.hasOwn(collections, key) ? collections[key] : undefined;
  if (target === undefined) return ` is neither a field of ${parent.name} nor an entity.`;
  const links = Object.entries(target.fields).filter(
    ([, spec]) => (spec.type === "ref" || spec.type === "refMany") && spec.target === parent.name,
  );
  const names = links.map(([each]) => each).join(", ");
  let link: (typeof links)[number] | undefined;
  if (via !== undefined) {
    link = links.find(([each]) => each === via);
    if (link === undefined)
      return `.via must name a field of ${key} that refers to ${parent.name} (${names || "none"}).`;
  } else if (links.length === 1) {
    link = links[0]!;
  } else {
    return links.length === 0
      ? `: no field of ${key} refers to ${parent.name}.`
      : `: several fields of ${key} refer to ${parent.name} (${names}); name one with via.`;
  }
  return { direction: "reverse", link: link[0], linkSpec: link[1], collection: key };
}
