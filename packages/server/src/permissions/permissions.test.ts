import { compileWhere, createClock, encodeHlc, type Triple, TripleStore } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { Permissions, type RuleUser } from "./permissions.js";
import { parseRules } from "./rules.js";

const clock = createClock({ node: "test" });
const stamp = () => encodeHlc(clock.now());
const cell = (id: string, field: string, value: unknown): Triple => ({
  collection: "projects",
  id,
  field,
  value,
  hlc: stamp(),
});
const member = (id: string, user: string): Triple => ({
  collection: "projects",
  id,
  field: "memberIds",
  element: user,
  value: true,
  hlc: stamp(),
});
const user = (id: string | null, claims: Record<string, unknown> = {}): RuleUser => ({ id, claims });

/** Whether `who` may push `triples` against a replica holding `stored`. */
function mayPush(rules: unknown, who: RuleUser, triples: readonly Triple[], stored: readonly Triple[] = []): boolean {
  const replica = new TripleStore();
  replica.transact(() => {
    for (const triple of stored) replica.applyTriple(triple);
  });
  return new Permissions(parseRules(rules)).checkWrites(replica, triples, who).error === undefined;
}

describe("Permissions without a schema", () => {
  it("reads a set field (stored as members) as a set: equals means contains", () => {
    const rules = { projects: { create: true, update: { memberIds: "$user.id" } } };
    const stored = [cell("p1", "name", "x"), member("p1", "ada"), member("p1", "bob")];
    expect(mayPush(rules, user("bob"), [cell("p1", "name", "y")], stored)).toBe(true);
    expect(mayPush(rules, user("cy"), [cell("p1", "name", "y")], stored)).toBe(false);
    // Adding oneself to the set is an update checked before it: no way in for an outsider.
    expect(mayPush(rules, user("cy"), [member("p1", "cy")], stored)).toBe(false);
    // Removing the last member leaves a document nobody may update (checked after too).
    expect(
      mayPush(
        rules,
        user("bob"),
        [
          { ...member("p1", "bob"), value: false },
          { ...member("p1", "ada"), value: false },
        ],
        stored,
      ),
    ).toBe(false);
  });

  it("checks an update's after state whenever the push changes a field the rule reads, claims or not", () => {
    const rules = { projects: { create: true, update: { team: "$user.team", not: { locked: true } } } };
    const stored = [cell("p1", "team", "red"), cell("p1", "name", "x")];
    const red = user("ada", { team: "red" });
    expect(mayPush(rules, red, [cell("p1", "name", "y")], stored)).toBe(true);
    expect(mayPush(rules, red, [cell("p1", "team", "blue")], stored)).toBe(false);
    expect(mayPush(rules, red, [cell("p1", "locked", true)], stored)).toBe(false);
    // Without the claim nothing holds, before or after.
    expect(mayPush(rules, user("ada"), [cell("p1", "name", "y")], stored)).toBe(false);
    // The same Permissions keeps each user's compiled rules apart.
    const replica = new TripleStore();
    replica.transact(() => {
      for (const triple of stored) replica.applyTriple(triple);
    });
    const permissions = new Permissions(parseRules(rules));
    expect(permissions.checkWrites(replica, [cell("p1", "name", "z")], red).error).toBeUndefined();
    expect(
      permissions.checkWrites(replica, [cell("p1", "name", "z")], user("bo", { team: "blue" })).error,
    ).toMatchObject({ code: "UNAUTHORIZED" });
    expect(permissions.checkWrites(replica, [cell("p1", "name", "z")], red).error).toBeUndefined();
  });

  it("reads a plain field as its value, with every operator", () => {
    const rules = {
      projects: {
        create: { or: [{ size: { lessThan: 10 } }, { name: { startsWith: "big-" } }], not: { name: "forbidden" } },
      },
    };
    expect(mayPush(rules, user("ada"), [cell("p1", "size", 3), cell("p1", "name", "small")])).toBe(true);
    expect(mayPush(rules, user("ada"), [cell("p1", "size", 30), cell("p1", "name", "big-one")])).toBe(true);
    expect(mayPush(rules, user("ada"), [cell("p1", "size", 30), cell("p1", "name", "huge")])).toBe(false);
    expect(mayPush(rules, user("ada"), [cell("p1", "size", 3), cell("p1", "name", "forbidden")])).toBe(false);
  });

  it("compares claims, a list claim as a set, and never holds a comparison with a missing claim", () => {
    const rules = { projects: { create: { "$user.roles": "editor" }, delete: { owner: { notEquals: "$user.team" } } } };
    expect(mayPush(rules, user("ada", { roles: ["viewer", "editor"] }), [cell("p1", "name", "x")])).toBe(true);
    expect(mayPush(rules, user("ada", { roles: ["viewer"] }), [cell("p1", "name", "x")])).toBe(false);
    expect(mayPush(rules, user("ada"), [cell("p1", "name", "x")])).toBe(false);
    const stored = [cell("p1", "owner", "red")];
    const remove = [cell("p1", "$deleted", true)];
    expect(mayPush(rules, user("ada", { team: "blue" }), remove, stored)).toBe(true);
    expect(mayPush(rules, user("ada", { team: "red" }), remove, stored)).toBe(false);
    // No team claim: even notEquals does not hold.
    expect(mayPush(rules, user("ada"), remove, stored)).toBe(false);
  });

  it("lets anyone do anything without rules, and nothing with rules that do not mention it", () => {
    const replica = new TripleStore();
    expect(
      new Permissions(undefined).checkWrites(replica, [cell("p1", "name", "x")], user(null)).error,
    ).toBeUndefined();
    expect(new Permissions(undefined).readConditions("projects", user(null))).toBe(true);
    const rules = new Permissions(parseRules({ other: { read: true, create: true } }));
    expect(rules.checkWrites(replica, [cell("p1", "name", "x")], user("ada")).error).toMatchObject({
      code: "UNAUTHORIZED",
      details: { collection: "projects", operation: "create" },
    });
    expect(rules.readConditions("projects", user("ada"))).toBe(false);
    expect(rules.readConditions("other", user("ada"))).toBe(true);
  });

  it("reads per collection when claims alone decide, per document when fields do", () => {
    const rules = new Permissions(
      parseRules({
        notes: { read: { or: [{ "$user.role": "admin" }, { ownerId: "$user.id" }] } },
        tags: { read: { "$user.role": "admin" } },
      }),
    );
    expect(rules.readConditions("tags", user("ada", { role: "admin" }))).toBe(true);
    expect(rules.readConditions("tags", user("ada"))).toBe(false);
    const replica = new TripleStore();
    replica.transact(() => {
      for (const [id, owner] of [
        ["n1", "ada"],
        ["n2", "bo"],
      ] as const)
        replica.applyTriple({ collection: "notes", id, field: "ownerId", value: owner, hlc: stamp() });
    });
    const table = replica.table("notes")!;
    const readable = (who: RuleUser) => {
      const conditions = rules.readConditions("notes", who);
      if (typeof conditions === "boolean") return conditions ? ["n1", "n2"] : [];
      const test = compileWhere(conditions, {});
      return ["n1", "n2"].filter((id) => test(table, table.rowOf(id)!));
    };
    expect(readable(user("ada"))).toEqual(["n1"]);
    expect(readable(user("bo"))).toEqual(["n2"]);
    expect(readable(user("cy"))).toEqual([]);
    expect(readable(user("cy", { role: "admin" }))).toEqual(["n1", "n2"]);
  });
});
