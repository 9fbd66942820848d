import { type Operator, OPERATORS } from "@trellis/core";

/**
 * Permission rules as loaded: per collection a rule for each operation, and per room type a
 * join rule. A rule is `true` (allowed), `false` (denied) or a filter on the document; an
 * operation without a rule is denied. See docs/permissions.md.
 */
export interface Rules {
  readonly collections: ReadonlyMap<string, CollectionRules>;
  readonly rooms: ReadonlyMap<string, JoinRule>;
}

export type Operation = "read" | "create" | "update" | "delete";
export const OPERATIONS: readonly Operation[] = ["read", "create", "update", "delete"];

export type CollectionRules = { readonly [K in Operation]: Rule };

/** `true`, `false`, or the filter a document must match. */
export type Rule = boolean | readonly RuleCondition[];

/** A join rule: allowed, denied, or the room id must name a document of `readable` that the user may read. */
export type JoinRule = boolean | { readonly readable: string };

/** A value in a rule: written in the rules, or taken from the user (`$user.id`, `$user.<claim>`). */
export type RuleValue = { readonly literal: unknown } | { readonly user: string };

/** One condition of a rule's filter (all of a filter's conditions must hold). */
export type RuleCondition =
  | { readonly kind: "field"; readonly field: string; readonly op: Operator; readonly operand: RuleValue }
  | { readonly kind: "claim"; readonly claim: string; readonly op: Operator; readonly operand: RuleValue }
  | { readonly kind: "or"; readonly branches: ReadonlyArray<readonly RuleCondition[]> }
  | { readonly kind: "not"; readonly conditions: readonly RuleCondition[] }
  | RelatedRule;

/**
 * Some document of `collection` reached from the document matches `conditions`: through the
 * document's `link` field (`forward`: its ids), or through `link` of the other documents
 * pointing back (`reverse`).
 */
export interface RelatedRule {
  readonly kind: "related";
  readonly direction: "forward" | "reverse";
  readonly link: string;
  readonly collection: string;
  readonly conditions: readonly RuleCondition[];
}

/** A mistake in rules: where (a JSON path such as `notes.update.ownerId`) and what. */
export class RulesError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`Invalid permissions at ${path}: ${reason}.`);
    this.name = "RulesError";
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const USER_PATH = /^\$user\.([A-Za-z_][A-Za-z0-9_]{0,63})$/;
const MAX_DEPTH = 8;

/**
 * Checks permission rules (parsed JSON) and returns them in the form the server enforces; throws
 * a {@link RulesError} naming the path of the first mistake.
 *
 * @example
 * import { readFileSync } from "node:fs";
 * const rules = parseRules(JSON.parse(readFileSync("rules.json", "utf8")));
 */
export function parseRules(value: unknown): Rules {
  const top = object(value, "(rules)");
  const collections = new Map<string, CollectionRules>();
  let rooms = new Map<string, JoinRule>();
  for (const [key, each] of Object.entries(top)) {
    if (key === "$rooms") {
      rooms = parseRooms(each);
      continue;
    }
    if (!NAME.test(key)) throw new RulesError(key, "expected a collection name (letters, digits, _) or $rooms");
    collections.set(key, parseCollection(each, key));
  }
  return { collections, rooms };
}

function parseCollection(value: unknown, path: string): CollectionRules {
  const raw = object(value, path);
  for (const key of Object.keys(raw)) {
    if (!OPERATIONS.includes(key as Operation))
      throw new RulesError(`${path}.${key}`, `unknown operation (expected ${OPERATIONS.join(", ")})`);
  }
  const rule = (operation: Operation): Rule => {
    const each = raw[operation];
    if (each === undefined || typeof each === "boolean") return each ?? false;
    return filter(each, `${path}.${operation}`, 0, path);
  };
  return { read: rule("read"), create: rule("create"), update: rule("update"), delete: rule("delete") };
}

function parseRooms(value: unknown): Map<string, JoinRule> {
  const rooms = new Map<string, JoinRule>();
  for (const [roomType, each] of Object.entries(object(value, "$rooms"))) {
    const path = `$rooms.${roomType}`;
    if (!NAME.test(roomType)) throw new RulesError(path, "expected a room type name");
    const raw = object(each, path);
    for (const key of Object.keys(raw))
      if (key !== "join") throw new RulesError(`${path}.${key}`, `unknown key (a room type has one rule, join)`);
    if (!Object.hasOwn(raw, "join"))
      throw new RulesError(`${path}.join`, "missing: a room type's rule says who may join");
    const join = raw.join;
    if (typeof join === "boolean") {
      rooms.set(roomType, join);
      continue;
    }
    const readable = object(join, `${path}.join`);
    for (const key of Object.keys(readable))
      if (key !== "readable") throw new RulesError(`${path}.join.${key}`, "unknown key (expected readable)");
    if (typeof readable.readable !== "string" || !NAME.test(readable.readable))
      throw new RulesError(`${path}.join.readable`, "expected a collection name");
    rooms.set(roomType, { readable: readable.readable });
  }
  return rooms;
}

/**
 * A filter on documents of `collection` in the rules' language, outside any rules (the
 * dashboard's filter box); throws a {@link RulesError} naming the path (from `where`) of the
 * first mistake.
 *
 * @example parseFilter({ done: false, title: { startsWith: "Buy" } }, "todos")
 */
export function parseFilter(value: unknown, collection: string): RuleCondition[] {
  return filter(value, "where", 0, collection);
}

/** A filter: field filters (bare value or operators), `$user.<claim>` filters, and `or` / `and` / `not`. */
function filter(value: unknown, path: string, depth: number, collection: string): RuleCondition[] {
  if (depth > MAX_DEPTH)
    throw new RulesError(path, `or, and, not and filters through relations nest at most ${MAX_DEPTH} deep`);
  const raw = object(value, path);
  const conditions: RuleCondition[] = [];
  for (const [key, each] of Object.entries(raw)) {
    const at = `${path}.${key}`;
    if (key === "or" || key === "and") {
      if (!Array.isArray(each) || each.length === 0) throw new RulesError(at, "expected a non-empty list of filters");
      const branches = each.map((branch, index) => filter(branch, `${at}[${index}]`, depth + 1, collection));
      if (key === "or") conditions.push({ kind: "or", branches });
      else for (const branch of branches) conditions.push(...branch);
      continue;
    }
    if (key === "not") {
      conditions.push({ kind: "not", conditions: filter(each, at, depth + 1, collection) });
      continue;
    }
    const claim = USER_PATH.exec(key)?.[1];
    if (claim === undefined && key.startsWith("$"))
      throw new RulesError(at, "expected $user.id or $user.<claim> as a key");
    if (claim === undefined && !NAME.test(key)) throw new RulesError(at, "expected a field name (letters, digits, _)");
    if (isPlainObject(each) && Object.hasOwn(each, "where")) {
      if (claim !== undefined) throw new RulesError(at, "a $user value takes no where");
      conditions.push(relatedRule(key, each, at, depth, collection));
      continue;
    }
    const operators: Array<[string, unknown]> = isPlainObject(each) ? Object.entries(each) : [["equals", each]];
    for (const [op, operand] of operators) {
      const condition = { op: operator(op, `${at}.${op}`), operand: ruleValue(op, operand, `${at}.${op}`) };
      conditions.push(
        claim === undefined ? { kind: "field", field: key, ...condition } : { kind: "claim", claim, ...condition },
      );
    }
  }
  return conditions;
}

/**
 * A filter through a relation, as in queries: `{ "projectId": { "where": {…} } }` follows the
 * document's ref field, `{ "members": { "where": {…} } }` the documents of `members` pointing
 * back. The server has no schema, so names follow a convention unless the rule says otherwise: a
 * key ending in `Id`/`Ids` is a ref field naming documents of the plural (`projectId` →
 * `projects`, `categoryIds` → `categories`; `"collection"` names another), any other key is a
 * collection whose ref field is the singular of this one plus `Id` (`projectId` under `projects`;
 * `"via"` names another). `collection` is the collection the filter sits in.
 */
function relatedRule(
  key: string,
  value: Record<string, unknown>,
  path: string,
  depth: number,
  collection: string,
): RelatedRule {
  for (const option of Object.keys(value)) {
    if (option !== "where" && option !== "collection" && option !== "via")
      throw new RulesError(
        `${path}.${option}`,
        "unknown key (a filter through a relation takes where, and collection or via)",
      );
  }
  const name = (option: "collection" | "via") => {
    const each = value[option];
    if (typeof each !== "string" || !NAME.test(each))
      throw new RulesError(`${path}.${option}`, `expected a ${option === "via" ? "field" : "collection"} name`);
    return each;
  };
  const refStem = /^(.+?)Ids?$/.exec(key)?.[1];
  const isForward = value.via === undefined && (value.collection !== undefined || refStem !== undefined);
  if (isForward) {
    const target = value.collection === undefined ? pluralOf(refStem!) : name("collection");
    return {
      kind: "related",
      direction: "forward",
      link: key,
      collection: target,
      conditions: filter(value.where, `${path}.where`, depth + 1, target),
    };
  }
  let link: string;
  if (value.via !== undefined) link = name("via");
  else {
    const singular = singularOf(collection);
    if (singular === undefined)
      throw new RulesError(
        `${path}.via`,
        `missing: name the field of ${key} that refers to ${collection} (it cannot be told from the names)`,
      );
    link = `${singular}Id`;
  }
  return {
    kind: "related",
    direction: "reverse",
    link,
    collection: key,
    conditions: filter(value.where, `${path}.where`, depth + 1, key),
  };
}

/** `project` → `projects`, `category` → `categories`, `box` → `boxes`. */
function pluralOf(word: string): string {
  if (/[^aeiou]y$/.test(word)) return `${word.slice(0, -1)}ies`;
  if (/(s|x|z|ch|sh)$/.test(word)) return `${word}es`;
  return `${word}s`;
}

/** `projects` → `project`, `categories` → `category`, `boxes` → `box`; undefined for a name not in the plural. */
function singularOf(word: string): string | undefined {
  if (word.endsWith("ies")) return `${word.slice(0, -3)}y`;
  if (/(s|x|z|ch|sh)es$/.test(word)) return word.slice(0, -2);
  if (word.endsWith("s") && !word.endsWith("ss")) return word.slice(0, -1);
  return undefined;
}

function operator(op: string, path: string): Operator {
  if (!OPERATORS.has(op as Operator))
    throw new RulesError(path, `unknown operator (expected one of ${[...OPERATORS].join(", ")})`);
  return op as Operator;
}

function ruleValue(op: string, operand: unknown, path: string): RuleValue {
  if (typeof operand === "string" && operand.startsWith("$")) {
    const user = USER_PATH.exec(operand)?.[1];
    if (user === undefined) throw new RulesError(path, `${JSON.stringify(operand)} is not $user.id or $user.<claim>`);
    return { user };
  }
  if (op === "isDefined" || op === "isUndefined") {
    if (typeof operand !== "boolean") throw new RulesError(path, "expected true or false");
  } else if (op === "in" || op === "notIn") {
    if (!Array.isArray(operand) || !operand.every(isScalar))
      throw new RulesError(path, "expected a list of strings, numbers or booleans");
  } else if (!isScalar(operand)) {
    throw new RulesError(path, "expected a string, a number, a boolean or a $user value");
  }
  return { literal: operand };
}

function isScalar(value: unknown): boolean {
  return (
    typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (!isPlainObject(value))
    throw new RulesError(
      path,
      `expected an object, got ${Array.isArray(value) ? "a list" : (JSON.stringify(value) ?? String(value))}`,
    );
  for (const key of Object.keys(value))
    if (key === "__proto__" || key === "constructor" || key === "prototype")
      throw new RulesError(`${path}.${key}`, "not allowed");
  return value;
}
