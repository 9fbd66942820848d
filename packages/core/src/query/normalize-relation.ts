import { type DatabaseResult, fail, ok } from "../errors.js";
import type { CollectionSpec } from "../schema/types.js";
import type { NormalizedQuery, NormalizedRelation } from "./query.js";

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
  if (collections === undefined) return invalid(parent.name, `${where}: relations need the schema's collections.`, name);
  if (depth + 1 > MAX_DEPTH) return invalid(parent.name, `${where}: relations nest at most ${MAX_DEPTH} deep.`, name);
  const { via, ...query } = nested as { via?: unknown };
  const field = Object.hasOwn(parent.fields, name) ? parent.fields[name] : undefined;

  if (field !== undefined) {
    if (field.type !== "ref" && field.type !== "refMany") {
      return invalid(parent.name, `${where} is a ${field.type} field; only ref and refMany fields take a nested query.`, name);
    }
    if (via !== undefined) return invalid(parent.name, `${where}.via only applies to reverse relations.`, name);
    const target = collections[field.target!]!;
    const normalized = normalize(target, query, collections, depth + 1);
    if (normalized.error) return normalized;
    return ok({
      name,
      cardinality: field.type === "ref" ? "one" : "many",
      direction: "forward",
      link: name,
      linkSpec: field,
      query: normalized.data,
    });
  }

  const target = Object.hasOwn(collections, name) ? collections[name] : undefined;
  if (target === undefined) return invalid(parent.name, `${where} is neither a field of ${parent.name} nor an entity.`, name);
  const links = Object.entries(target.fields).filter(
    ([, spec]) => (spec.type === "ref" || spec.type === "refMany") && spec.target === parent.name,
  );
  let link: (typeof links)[number] | undefined;
  if (via !== undefined) {
    link = links.find(([linkName]) => linkName === via);
    if (link === undefined) {
      return invalid(parent.name, `${where}.via must name a field of ${name} that refers to ${parent.name} (${links.map(([n]) => n).join(", ") || "none"}).`, name);
    }
  } else if (links.length === 1) {
    link = links[0]!;
  } else {
    return links.length === 0
      ? invalid(parent.name, `${where}: no field of ${name} refers to ${parent.name}.`, name)
      : invalid(parent.name, `${where}: several fields of ${name} refer to ${parent.name} (${links.map(([n]) => n).join(", ")}); name one with via.`, name);
  }
  const normalized = normalize(target, query, collections, depth + 1);
  if (normalized.error) return normalized;
  return ok({ name, cardinality: "many", direction: "reverse", link: link[0], linkSpec: link[1], query: normalized.data });
}
