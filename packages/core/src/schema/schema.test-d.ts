import { describe, expectTypeOf, it } from "vitest";
import { createSchema } from "./create-schema.js";
import { type JsonValue, t } from "./t.js";
import type { CreateInput, Doc, EntitiesOf, ReplaceInput, UpdateInput } from "./types.js";

const schema = createSchema({
  entities: {
    users: {
      name: t.string({ fallback: "" }),
      age: t.number({ optional: true }),
      isAdult: t.boolean({ fallback: false }),
      lastLogin: t.date({ optional: true }),
      joinedAt: t.date({ fallback: "now" }),
      birthday: t.date({ fallback: new Date(0) }),
      prefs: t.json({ optional: true }),
      settings: t.json<{ theme: "dark" | "light" }>({ fallback: { theme: "light" } }),
      nickname: t.string({ optional: true, fallback: "anon" }),
      bestFriendId: t.ref("users"),
      friendIds: t.refMany("users"),
    },
  },
  rooms: {
    editor: {
      userStatus: {
        cursor: t.object({ x: t.number({ fallback: 0 }), label: t.string({ optional: true }) }),
        tags: t.array(t.string({ fallback: "" })),
      },
    },
  },
});
type Users = typeof schema.entities.users;

describe("Doc", () => {
  type User = Doc<Users>;

  it("reads fields with a fallback as defined", () => {
    expectTypeOf<User["name"]>().toEqualTypeOf<string>();
    expectTypeOf<User["isAdult"]>().toEqualTypeOf<boolean>();
    expectTypeOf<User["nickname"]>().toEqualTypeOf<string>();
    expectTypeOf<User["settings"]>().toEqualTypeOf<{ theme: "dark" | "light" }>();
  });

  it("reads optional fields without a fallback as possibly undefined", () => {
    expectTypeOf<User["age"]>().toEqualTypeOf<number | undefined>();
    expectTypeOf<User["lastLogin"]>().toEqualTypeOf<Date | undefined>();
    expectTypeOf<User["prefs"]>().toEqualTypeOf<JsonValue | undefined>();
  });

  it("types json fields as JSON (never any), or as the type given", () => {
    expectTypeOf<User["prefs"]>().not.toBeAny();
    expectTypeOf<User["settings"]>().not.toBeAny();
    const typed = createSchema({
      entities: {
        notes: {
          tags: t.json<string[]>({ optional: true }),
          layout: t.json<{ columns: number }>({ optional: true, fallback: { columns: 1 } }),
        },
      },
    });
    type Note = Doc<typeof typed.entities.notes>;
    expectTypeOf<Note["tags"]>().toEqualTypeOf<string[] | undefined>();
    expectTypeOf<Note["layout"]>().toEqualTypeOf<{ columns: number }>();
    expectTypeOf<{}>().toExtend<CreateInput<typeof typed.entities.notes>>();
    // @ts-expect-error the fallback must fit the given type
    t.json<{ columns: number }>({ fallback: { columns: "one" } });
  });

  it("reads dates as Date, refs as string | undefined, refMany as string[]", () => {
    expectTypeOf<User["joinedAt"]>().toEqualTypeOf<Date>();
    expectTypeOf<User["birthday"]>().toEqualTypeOf<Date>();
    expectTypeOf<User["bestFriendId"]>().toEqualTypeOf<string | undefined>();
    expectTypeOf<User["friendIds"]>().toEqualTypeOf<string[]>();
  });

  it("includes the auto fields", () => {
    expectTypeOf<User["id"]>().toEqualTypeOf<string>();
    expectTypeOf<User["createdAt"]>().toEqualTypeOf<Date>();
    expectTypeOf<User["updatedAt"]>().toEqualTypeOf<Date>();
    expectTypeOf<User["createdBy"]>().toEqualTypeOf<string | undefined>();
  });

  it("has exactly the schema fields and the auto fields", () => {
    expectTypeOf<keyof User>().toEqualTypeOf<
      | "name"
      | "age"
      | "isAdult"
      | "lastLogin"
      | "joinedAt"
      | "birthday"
      | "prefs"
      | "settings"
      | "nickname"
      | "bestFriendId"
      | "friendIds"
      | "id"
      | "createdAt"
      | "updatedAt"
      | "createdBy"
    >();
  });
});

describe("CreateInput", () => {
  type NewUser = CreateInput<Users>;

  it("requires the required fields and leaves the others optional", () => {
    expectTypeOf<{ name: string; isAdult: boolean; birthday: Date; settings: { theme: "dark" } }>().toExtend<NewUser>();
    expectTypeOf<{ name: string; isAdult: boolean; settings: { theme: "dark" } }>().not.toExtend<NewUser>();
    expectTypeOf<{ isAdult: boolean; birthday: Date; settings: { theme: "dark" } }>().not.toExtend<NewUser>();
  });

  it('makes a date with fallback "now" optional, other dates with a fallback required', () => {
    type Optional = { [K in keyof NewUser]-?: {} extends Pick<NewUser, K> ? K : never }[keyof NewUser];
    expectTypeOf<Optional>().toEqualTypeOf<
      "id" | "age" | "lastLogin" | "joinedAt" | "prefs" | "nickname" | "bestFriendId" | "friendIds"
    >();
  });

  it("takes write value types", () => {
    expectTypeOf<NewUser["name"]>().toEqualTypeOf<string>();
    expectTypeOf<NewUser["birthday"]>().toEqualTypeOf<Date>();
    expectTypeOf<NewUser["joinedAt"]>().toEqualTypeOf<Date | undefined>();
    expectTypeOf<NewUser["friendIds"]>().toEqualTypeOf<string[] | undefined>();
    expectTypeOf<NewUser["bestFriendId"]>().toEqualTypeOf<string | undefined>();
  });

  it("takes an optional id, and no other auto field", () => {
    expectTypeOf<NewUser["id"]>().toEqualTypeOf<string | undefined>();
    expectTypeOf<NewUser>().not.toHaveProperty("createdAt");
    expectTypeOf<NewUser>().not.toHaveProperty("updatedAt");
    expectTypeOf<NewUser>().not.toHaveProperty("createdBy");
  });

  it("rejects unknown fields and wrong value types in literals", () => {
    // @ts-expect-error unknown field
    const unknown: NewUser = { name: "", isAdult: true, birthday: new Date(), settings: { theme: "dark" }, email: "" };
    // @ts-expect-error wrong value type
    const wrong: NewUser = { name: 1, isAdult: true, birthday: new Date(), settings: { theme: "dark" } };
    // @ts-expect-error a json field with a given type checks it
    const json: NewUser = { name: "", isAdult: true, birthday: new Date(), settings: { theme: "blue" } };
    expectTypeOf([unknown, wrong, json]).toBeArray();
  });

  it("is ReplaceInput plus the optional id", () => {
    expectTypeOf<ReplaceInput<Users>>().toEqualTypeOf<Omit<NewUser, "id">>();
    expectTypeOf<ReplaceInput<Users>>().not.toHaveProperty("id");
  });
});

describe("UpdateInput", () => {
  type Change = UpdateInput<Users>;

  it("makes every field optional", () => {
    expectTypeOf<{}>().toExtend<Change>();
    expectTypeOf<Required<Change>>().toEqualTypeOf<{
      name: string;
      age: number;
      isAdult: boolean;
      lastLogin: Date;
      joinedAt: Date;
      birthday: Date;
      prefs: JsonValue;
      settings: { theme: "dark" | "light" };
      nickname: string;
      bestFriendId: string;
      friendIds: string[];
    }>();
  });

  it("lets optional fields be set to undefined (removal)", () => {
    expectTypeOf<{ age: undefined; bestFriendId: undefined; friendIds: undefined }>().toExtend<Change>();
  });

  it("rejects unknown fields and auto fields", () => {
    // @ts-expect-error unknown field
    const unknown: Change = { email: "" };
    // @ts-expect-error auto fields are read-only
    const auto: Change = { createdAt: new Date() };
    expectTypeOf([unknown, auto]).toBeArray();
  });
});

describe("EntitiesOf", () => {
  it("recovers the entity definitions", () => {
    expectTypeOf<EntitiesOf<typeof schema>["users"]>().toEqualTypeOf<Users>();
  });
});

describe("rooms", () => {
  it("keeps the room definitions for inference", () => {
    expectTypeOf(schema.rooms.editor.userStatus.cursor).not.toBeAny();
  });
});
