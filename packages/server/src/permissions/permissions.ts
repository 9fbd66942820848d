import {
  AUTO_FIELD_SPECS,
  type Condition,
  compileWhere,
  type DatabaseResult,
  DELETED_FIELD,
  fail,
  type FieldSpec,
  ok,
  type RelatedFilter,
  type RowTest,
  type SourceTable,
  type Triple,
  TripleStore,
  valueTest,
  whereFields,
} from "@trellis/core";
import { PushOverlay } from "./push-overlay.js";
import type { Operation, Rule, RuleCondition, Rules, RuleValue } from "./rules.js";

/** Who a rule is checked for: the user id (null: anonymous) and the verified token's claims. */
export interface RuleUser {
  readonly id: string | null;
  readonly claims: Readonly<Record<string, unknown>>;
  /** Server code with a service key (`createAdminClient`): no rule applies to it. */
  readonly isPrivileged?: boolean;
}

/** A condition no document meets: an `or` with no branch. */
const NEVER: Condition = { or: [] };
/** How a rule's field is read without a schema; auto fields have theirs. */
const SCHEMALESS: FieldSpec = { type: "any", optional: true };

/**
 * Enforces permission rules (see `parseRules`) with the shared query engine: a rule's filter
 * becomes the conditions of a query, with the user's values in place of `$user`, and is tested
 * on the document in the server's replica, or on the document a push would leave. Without
 * rules, everything is allowed.
 *
 * @example
 * const rules = parseRules({ todos: { read: true, create: true, update: { createdBy: "$user.id" } } });
 * const permissions = new Permissions(rules);
 * const checked = permissions.checkWrites(store, triples, { id: userId, claims: {} }); // store: the app's replica
 */
export class Permissions {
  /** Rules compiled per user (connections keep their user object) and per operation and collection, on the replica. */
  private readonly compiled = new WeakMap<RuleUser, Map<string, boolean | RowTest>>();
  /** The fields each rule reads, by operation and collection. */
  private readonly ruleFields = new Map<string, ReadonlySet<string>>();

  constructor(readonly rules: Rules | undefined) {}

  /** Whether rules are given (then everything they do not allow is denied). */
  get isEnforced(): boolean {
    return this.rules !== undefined;
  }

  /**
   * Which documents of `collection` `user` may read: all (`true`), none (`false`), or those that
   * meet these conditions (each reading its field as the rule does, whatever the query's specs).
   */
  readConditions(collection: string, user: RuleUser): boolean | Condition[] {
    const rule = this.ruleOf(collection, "read");
    if (typeof rule === "boolean") return rule;
    const where = ruleConditions(rule, user);
    // Claims alone decide it for every document at once.
    if (whereFields(where).length === 0 && !hasRelated(rule)) return compileWhere(where, {})(undefined as never, 0);
    return where;
  }

  /**
   * Whether `user` may make every change of a push (whole documents: `create` on the document
   * as written, `update` on it before and after, `delete` on it before). UNAUTHORIZED names the
   * first refused change; nothing of the push may then be stored.
   */
  checkWrites(replica: TripleStore, triples: readonly Triple[], user: RuleUser): DatabaseResult<void> {
    if (this.rules === undefined) return ok(undefined);
    const byDocument = new Map<string, Triple[]>();
    for (const triple of triples) {
      const key = `${triple.collection}\u0000${triple.id}`;
      let list = byDocument.get(key);
      if (list === undefined) byDocument.set(key, (list = []));
      list.push(triple);
    }
    // What the documents would be after the push (stored cells, then the push's, merged), built
    // only when a rule must see it: for a rule on the document's own fields, only if it reads a
    // field the push changes (otherwise it reads the same); for a rule through relations, always.
    let overlay: PushOverlay | undefined;
    const afterOf = (list: readonly Triple[]) => {
      overlay ??= new PushOverlay(replica, byDocument.values());
      const { collection, id } = list[0]!;
      const table = overlay.table(collection)!;
      return { table, row: table.rowOf(id)!, source: overlay };
    };
    for (const list of byDocument.values()) {
      const { collection, id } = list[0]!;
      const table = replica.table(collection);
      const stored = table?.anyRowOf(id);
      const isLive = stored !== undefined && table!.isLive(stored);
      // A deleted document takes no more writes: the push changes nothing of it.
      if (stored !== undefined && !isLive) continue;
      const deletes = list.some((triple) => triple.field === DELETED_FIELD);
      const operation: Operation = deletes ? "delete" : isLive ? "update" : "create";
      if (deletes && !isLive) continue;
      let allowed: boolean;
      if (operation === "create") {
        const created = afterOf(list);
        allowed = this.allows(collection, "create", user, created.table, created.row, created.source);
      } else if (operation === "delete") {
        allowed = this.allows(collection, "delete", user, table!, stored!, replica);
      } else {
        allowed = this.allows(collection, "update", user, table!, stored!, replica);
        if (allowed && this.readsAnyOf(collection, "update", list)) {
          const updated = afterOf(list);
          allowed = this.allows(collection, "update", user, updated.table, updated.row, updated.source);
        }
      }
      if (!allowed) {
        return fail(
          "UNAUTHORIZED",
          `The rules do not let ${describeUser(user)} ${operation} ${collection}/${id}; nothing of the batch was stored.`,
          {
            collection,
            id,
            operation,
          },
        );
      }
    }
    return ok(undefined);
  }

  /** Whether `user` may join a room, whose id may have to name a document it may read. */
  mayJoin(roomType: string, roomId: string, user: RuleUser, replica: TripleStore): boolean {
    if (this.rules === undefined) return true;
    const rule = this.rules.rooms.get(roomType) ?? false;
    if (typeof rule === "boolean") return rule;
    const table = replica.table(rule.readable);
    const row = table?.rowOf(roomId);
    return row !== undefined && this.allows(rule.readable, "read", user, table!, row, replica);
  }

  /** The room types whose join rule needs a readable document of `collection` (its id the room's). */
  roomTypesReading(collection: string): string[] {
    const types: string[] = [];
    for (const [roomType, rule] of this.rules?.rooms ?? [])
      if (typeof rule !== "boolean" && rule.readable === collection) types.push(roomType);
    return types;
  }

  private ruleOf(collection: string, operation: Operation): Rule {
    if (this.rules === undefined) return true;
    return this.rules.collections.get(collection)?.[operation] ?? false;
  }

  /** Whether a rule allows `operation` on a row of `source` (the replica, or the data after a push). */
  private allows(
    collection: string,
    operation: Operation,
    user: RuleUser,
    table: SourceTable,
    row: number,
    source: TripleStore | PushOverlay,
  ): boolean {
    const test = this.testOf(collection, operation, user, source);
    return typeof test === "boolean" ? test : test(table, row);
  }

  /**
   * A rule compiled for one user. On the replica it is kept while the user (a connection's) is in
   * use; a rule through relations checked after a push reads that push's overlay, so it is
   * compiled for it.
   */
  private testOf(
    collection: string,
    operation: Operation,
    user: RuleUser,
    source: TripleStore | PushOverlay,
  ): boolean | RowTest {
    const rule = this.ruleOf(collection, operation);
    if (typeof rule === "boolean") return rule;
    if (source instanceof PushOverlay && hasRelated(rule)) return compileWhere(ruleConditions(rule, user), {}, source);
    let tests = this.compiled.get(user);
    if (tests === undefined) this.compiled.set(user, (tests = new Map()));
    const key = `${operation}\u0000${collection}`;
    let test = tests.get(key);
    if (test === undefined) tests.set(key, (test = compileWhere(ruleConditions(rule, user), {}, source)));
    return test;
  }

  /** Every rule's conditions with `$user` left open (see {@link structureOf}), per collection it governs reads of. */
  readRuleStructures(): Map<string, Condition[]> {
    const structures = new Map<string, Condition[]>();
    for (const [collection, rules] of this.rules?.collections ?? []) {
      if (typeof rules.read !== "boolean" && hasRelated(rules.read))
        structures.set(collection, structureOf(rules.read));
    }
    return structures;
  }

  /**
   * Whether the document a push changes can read differently to a rule after it: the rule reads
   * a field these triples write, or reaches other documents (which the push may change too).
   */
  private readsAnyOf(collection: string, operation: Operation, triples: readonly Triple[]): boolean {
    const rule = this.ruleOf(collection, operation);
    if (typeof rule === "boolean") return false;
    if (hasRelated(rule)) return true;
    const key = `${operation}\u0000${collection}`;
    let fields = this.ruleFields.get(key);
    if (fields === undefined) this.ruleFields.set(key, (fields = new Set(fieldsOf(rule))));
    if (fields.size === 0) return false;
    return triples.some((triple) => fields!.has(triple.field));
  }
}

/** Every field of the document a rule's filter names (whatever the user: a claim decides nothing here). */
function fieldsOf(rule: readonly RuleCondition[]): string[] {
  return rule.flatMap((condition) => {
    switch (condition.kind) {
      case "field":
        return [condition.field];
      case "or":
        return condition.branches.flatMap(fieldsOf);
      case "not":
        return fieldsOf(condition.conditions);
      case "related":
        return condition.direction === "forward" ? [condition.link] : [];
      case "claim":
        return [];
    }
  });
}

/** Whether a rule reaches other documents (through a relation, at any depth). */
function hasRelated(rule: readonly RuleCondition[]): boolean {
  return rule.some((condition) =>
    condition.kind === "related"
      ? true
      : condition.kind === "or"
        ? condition.branches.some(hasRelated)
        : condition.kind === "not"
          ? hasRelated(condition.conditions)
          : false,
  );
}

/** How a rule's filter is read with no user: fields as the rule reads them, links as it follows them. */
function specOfRuleField(field: string): FieldSpec {
  return Object.hasOwn(AUTO_FIELD_SPECS, field) ? AUTO_FIELD_SPECS[field]! : SCHEMALESS;
}

/**
 * A rule's shape for following what it reads: each field test as "is defined" (whatever the
 * user), each filter through a relation kept. What a live view needs to know which documents a
 * change can make readable or unreadable.
 */
function structureOf(rule: readonly RuleCondition[]): Condition[] {
  return rule.flatMap((condition): Condition[] => {
    switch (condition.kind) {
      case "field":
        return [{ field: condition.field, op: "isDefined", operand: true, spec: specOfRuleField(condition.field) }];
      case "claim":
        return [];
      case "or":
        return [{ or: condition.branches.map(structureOf) }];
      case "not":
        return [{ not: structureOf(condition.conditions) }];
      case "related":
        return [{ related: relatedOf(condition, structureOf(condition.conditions)) }];
    }
  });
}

function relatedOf(rule: Extract<RuleCondition, { kind: "related" }>, where: Condition[]): RelatedFilter {
  return {
    direction: rule.direction,
    link: rule.link,
    linkSpec: specOfRuleField(rule.link),
    collection: rule.collection,
    where,
    specs: {},
    isRule: true,
  };
}

/**
 * A rule's filter as query conditions for `user`, each reading its field as rules do (the
 * schemaless spec, or an auto field's). Claims are decided here; a comparison with a missing
 * `$user` value never holds.
 */
export function ruleConditions(rule: readonly RuleCondition[], user: RuleUser): Condition[] {
  const conditions: Condition[] = [];
  for (const condition of rule) {
    switch (condition.kind) {
      case "or":
        conditions.push({ or: condition.branches.map((branch) => ruleConditions(branch, user)) });
        break;
      case "not":
        conditions.push({ not: ruleConditions(condition.conditions, user) });
        break;
      case "claim": {
        const operand = valueFor(condition.operand, user);
        const claim = claimOf(condition.claim, user);
        const holds =
          operand.isKnown &&
          claim !== undefined &&
          valueTest({ field: "", op: condition.op, operand: operand.value }, SCHEMALESS)(claim);
        if (!holds) conditions.push(NEVER);
        break;
      }
      case "related":
        conditions.push({ related: relatedOf(condition, ruleConditions(condition.conditions, user)) });
        break;
      case "field": {
        const operand = valueFor(condition.operand, user);
        if (
          !operand.isKnown ||
          ((condition.op === "in" || condition.op === "notIn") && !Array.isArray(operand.value))
        ) {
          conditions.push(NEVER);
          break;
        }
        conditions.push({
          field: condition.field,
          op: condition.op,
          operand: operand.value,
          spec: specOfRuleField(condition.field),
        });
        break;
      }
    }
  }
  return conditions;
}

function valueFor(value: RuleValue, user: RuleUser): { readonly isKnown: boolean; readonly value: unknown } {
  if ("literal" in value) return { isKnown: true, value: value.literal };
  const claim = claimOf(value.user, user);
  return { isKnown: claim !== undefined, value: claim };
}

function claimOf(name: string, user: RuleUser): unknown {
  if (name === "id") return user.id ?? undefined;
  return Object.hasOwn(user.claims, name) ? user.claims[name] : undefined;
}

function describeUser(user: RuleUser): string {
  return user.id === null ? "an anonymous connection" : `user ${JSON.stringify(user.id)}`;
}
