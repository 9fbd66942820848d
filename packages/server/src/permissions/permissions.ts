import {
  AUTO_FIELD_SPECS,
  type Condition,
  compileWhere,
  type DatabaseResult,
  DELETED_FIELD,
  fail,
  type FieldSpec,
  ok,
  type RowTest,
  type Triple,
  TripleStore,
  valueTest,
  whereFields,
} from "@trellis/core";
import type { Operation, Rule, RuleCondition, Rules, RuleValue } from "./rules.js";

/** Who a rule is checked for: the user id (null: anonymous) and the verified token's claims. */
export interface RuleUser {
  readonly id: string | null;
  readonly claims: Readonly<Record<string, unknown>>;
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
 * const permissions = new Permissions(parseRules(json));
 * const checked = permissions.checkWrites(replica, triples, user);
 */
export class Permissions {
  /** Rules compiled per user (connections keep their user object) and per operation and collection. */
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
    const where = conditionsOf(rule, user);
    // Claims alone decide it for every document at once.
    if (whereFields(where).length === 0) return compileWhere(where, {})(undefined as never, 0);
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
    // What a document would be after the push (its stored cells, then the push's, merged), built
    // only for those whose rule reads a field the push changes: for the others it reads the same.
    let after: TripleStore | undefined;
    const afterOf = (list: readonly Triple[]) => {
      after ??= new TripleStore();
      const { collection, id } = list[0]!;
      after.transact(() => {
        for (const triple of replica.documentTriples(collection, id)) after!.applyTriple(triple);
        for (const triple of list) after!.applyTriple(triple);
      });
      const table = after.table(collection)!;
      return { table, row: table.anyRowOf(id)! };
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
        allowed = this.allows(collection, "create", user, created.table, created.row);
      } else if (operation === "delete") {
        allowed = this.allows(collection, "delete", user, table!, stored!);
      } else {
        allowed = this.allows(collection, "update", user, table!, stored!);
        if (allowed && this.readsAnyOf(collection, "update", list)) {
          const updated = afterOf(list);
          allowed = this.allows(collection, "update", user, updated.table, updated.row);
        }
      }
      if (!allowed) {
        return fail("UNAUTHORIZED", `The rules do not let ${describeUser(user)} ${operation} ${collection}/${id}; nothing of the batch was stored.`, {
          collection,
          id,
          operation,
        });
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
    return row !== undefined && this.allows(rule.readable, "read", user, table!, row);
  }

  /** The room types whose join rule needs a readable document of `collection` (its id the room's). */
  roomTypesReading(collection: string): string[] {
    const types: string[] = [];
    for (const [roomType, rule] of this.rules?.rooms ?? []) if (typeof rule !== "boolean" && rule.readable === collection) types.push(roomType);
    return types;
  }

  private ruleOf(collection: string, operation: Operation): Rule {
    if (this.rules === undefined) return true;
    return this.rules.collections.get(collection)?.[operation] ?? false;
  }

  private allows(collection: string, operation: Operation, user: RuleUser, table: NonNullable<ReturnType<TripleStore["table"]>>, row: number): boolean {
    const test = this.testOf(collection, operation, user);
    return typeof test === "boolean" ? test : test(table, row);
  }

  /** A rule compiled for one user, kept while the user (a connection's) is in use. */
  private testOf(collection: string, operation: Operation, user: RuleUser): boolean | RowTest {
    let tests = this.compiled.get(user);
    if (tests === undefined) this.compiled.set(user, (tests = new Map()));
    const key = `${operation}\u0000${collection}`;
    let test = tests.get(key);
    if (test === undefined) {
      const rule = this.ruleOf(collection, operation);
      tests.set(key, (test = typeof rule === "boolean" ? rule : compileWhere(conditionsOf(rule, user), {})));
    }
    return test;
  }

  /** Whether a rule reads any field these triples write (it reads a document's fields, not only claims). */
  private readsAnyOf(collection: string, operation: Operation, triples: readonly Triple[]): boolean {
    const key = `${operation}\u0000${collection}`;
    let fields = this.ruleFields.get(key);
    if (fields === undefined) {
      const rule = this.ruleOf(collection, operation);
      this.ruleFields.set(key, (fields = new Set(typeof rule === "boolean" ? [] : fieldsOf(rule))));
    }
    if (fields.size === 0) return false;
    return triples.some((triple) => fields!.has(triple.field));
  }
}

/** Every document field a rule's filter names (whatever the user: a claim decides nothing here). */
function fieldsOf(rule: readonly RuleCondition[]): string[] {
  return rule.flatMap((condition) =>
    condition.kind === "field" ? [condition.field] : condition.kind === "or" ? condition.branches.flatMap(fieldsOf) : condition.kind === "not" ? fieldsOf(condition.conditions) : [],
  );
}

/**
 * A rule's filter as query conditions for `user`, each reading its field as rules do (the
 * schemaless spec, or an auto field's). Claims are decided here; a comparison with a missing
 * `$user` value never holds.
 */
function conditionsOf(rule: readonly RuleCondition[], user: RuleUser): Condition[] {
  const conditions: Condition[] = [];
  for (const condition of rule) {
    switch (condition.kind) {
      case "or":
        conditions.push({ or: condition.branches.map((branch) => conditionsOf(branch, user)) });
        break;
      case "not":
        conditions.push({ not: conditionsOf(condition.conditions, user) });
        break;
      case "claim": {
        const operand = valueFor(condition.operand, user);
        const claim = claimOf(condition.claim, user);
        const holds = operand.isKnown && claim !== undefined && valueTest({ field: "", op: condition.op, operand: operand.value }, SCHEMALESS)(claim);
        if (!holds) conditions.push(NEVER);
        break;
      }
      case "field": {
        const operand = valueFor(condition.operand, user);
        if (!operand.isKnown || ((condition.op === "in" || condition.op === "notIn") && !Array.isArray(operand.value))) {
          conditions.push(NEVER);
          break;
        }
        const spec = Object.hasOwn(AUTO_FIELD_SPECS, condition.field) ? AUTO_FIELD_SPECS[condition.field]! : SCHEMALESS;
        conditions.push({ field: condition.field, op: condition.op, operand: operand.value, spec });
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
