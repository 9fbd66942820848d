import { describe, expect, it } from "vitest";
import { DatabaseError } from "../errors.js";
import { createSchema } from "./create-schema.js";
import type { AnyFieldDef } from "./field.js";
import { t } from "./t.js";

/** Runs `build` and returns the DatabaseError it throws (failing the test if it does not). */
function schemaErrorOf(build: () => unknown): DatabaseError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as DatabaseError).code).toBe("VALIDATION");
    return error as DatabaseError;
  }
  throw new Error("expected createSchema to throw");
}

const fieldOfType = (type: string): AnyFieldDef => ({ spec: { type, optional: true } }) as unknown as AnyFieldDef;

describe("createSchema", () => {
  it("accepts the full example schema of the spec, rooms included", () => {
    const schema = createSchema({
      entities: {
        users: {
          name: t.string({ fallback: "" }),
          age: t.number({ optional: true }),
          isAdult: t.boolean({ fallback: false }),
          lastLogin: t.date({ optional: true }),
          prefs: t.json({ optional: true }),
        },
        posts: {
          title: t.string({ fallback: "" }),
          published: t.boolean({ fallback: false }),
          viewCount: t.number({ fallback: 0 }),
          authorId: t.ref("users"),
          tagIds: t.refMany("tags"),
        },
        tags: { name: t.string({ fallback: "" }) },
      },
      rooms: {
        documentEditor: {
          events: { like: t.object({ targetId: t.string({ fallback: "" }) }) },
          userStatus: {
            cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }) }),
            isTyping: t.boolean({ fallback: false }),
            selection: t.array(t.string({ fallback: "" })),
          },
          roomStatus: { documentTitle: t.string({ optional: true }), collaboratorCount: t.number({ fallback: 0 }) },
        },
      },
    });
    expect(Object.keys(schema.collections)).toEqual(["users", "posts", "tags"]);
    expect(schema.collections.users!.fields.name).toEqual({ type: "string", optional: false, fallback: "" });
    expect(schema.collections.users!.fields.age).toEqual({ type: "number", optional: true });
    expect(schema.collections.posts!.fields.authorId).toEqual({ type: "ref", optional: true, target: "users" });
    expect(schema.collections.posts!.fields.tagIds).toEqual({ type: "refMany", optional: true, target: "tags" });
    const room = schema.roomSpecs.documentEditor!;
    expect(room.name).toBe("documentEditor");
    expect(Object.keys(room.events)).toEqual(["like"]);
    expect(Object.keys(room.userStatus)).toEqual(["cursor", "isTyping", "selection"]);
    expect(Object.keys(room.roomStatus)).toEqual(["documentTitle", "collaboratorCount"]);
    expect(room.userStatus.cursor!.fields!.x).toEqual({ type: "number", optional: false, fallback: 0 });
    expect(room.userStatus.selection!.items).toEqual({ type: "string", optional: false, fallback: "" });
  });

  it("keeps the runtime description plain JSON", () => {
    const schema = createSchema({
      entities: {
        events: {
          at: t.date({ fallback: new Date(1_000) }),
          due: t.date({ fallback: "now" }),
          note: t.string({ optional: true }),
        },
      },
    });
    const collections = JSON.parse(JSON.stringify(schema.collections));
    expect(collections).toEqual(schema.collections);
    expect(schema.collections.events!.fields.at!.fallback).toBe(1_000);
    expect(schema.collections.events!.fields.due!.fallback).toBe("now");
  });

  it("accepts a schema without rooms and optional fields with a fallback", () => {
    const schema = createSchema({ entities: { notes: { body: t.string({ optional: true, fallback: "" }) } } });
    expect(schema.roomSpecs).toEqual({});
    expect(schema.collections.notes!.fields.body).toEqual({ type: "string", optional: true, fallback: "" });
  });

  describe("rejects unknown types", () => {
    it("in an entity field", () => {
      const error = schemaErrorOf(() => createSchema({ entities: { users: { name: fieldOfType("uuid") } } }));
      expect(error.message).toContain("users.name");
      expect(error.message).toContain('"uuid"');
    });

    it("when a field is not built with t", () => {
      const error = schemaErrorOf(() =>
        createSchema({ entities: { users: { name: "string" as unknown as AnyFieldDef } } }),
      );
      expect(error.message).toContain("users.name");
      expect(error.message).toMatch(/t\.string\(\)/);
    });

    it("for room-only types used in an entity", () => {
      const objectError = schemaErrorOf(() =>
        createSchema({ entities: { users: { pos: t.object({ x: t.number({ fallback: 0 }) }) } } }),
      );
      expect(objectError.message).toContain("users.pos");
      expect(objectError.message).toContain('"object"');
      const arrayError = schemaErrorOf(() =>
        createSchema({ entities: { users: { tags: t.array(t.string({ fallback: "" })) } } }),
      );
      expect(arrayError.message).toContain("users.tags");
    });

    it("in a room field and inside objects and arrays", () => {
      const roomError = schemaErrorOf(() =>
        createSchema({ entities: {}, rooms: { chat: { userStatus: { mood: fieldOfType("emoji") } } } }),
      );
      expect(roomError.message).toContain("rooms.chat.userStatus.mood");
      const nested = schemaErrorOf(() =>
        createSchema({ entities: {}, rooms: { chat: { events: { ping: t.object({ at: fieldOfType("instant") }) } } } }),
      );
      expect(nested.message).toContain("rooms.chat.events.ping.at");
      const items = schemaErrorOf(() =>
        createSchema({ entities: {}, rooms: { chat: { roomStatus: { list: t.array(fieldOfType("set")) } } } }),
      );
      expect(items.message).toContain("rooms.chat.roomStatus.list[]");
    });
  });

  it("rejects a required field without a fallback, naming the fix", () => {
    for (const field of [t.string(), t.number(), t.boolean(), t.date(), t.json()]) {
      const error = schemaErrorOf(() => createSchema({ entities: { users: { value: field } } }));
      expect(error.message).toContain("users.value");
      expect(error.message).toContain("fallback");
      expect(error.message).toContain("optional");
    }
  });

  it("rejects a required room field without a fallback", () => {
    const error = schemaErrorOf(() =>
      createSchema({ entities: {}, rooms: { chat: { roomStatus: { topic: t.string() } } } }),
    );
    expect(error.message).toContain("rooms.chat.roomStatus.topic");
    const nested = schemaErrorOf(() =>
      createSchema({ entities: {}, rooms: { chat: { userStatus: { cursor: t.object({ x: t.number() }) } } } }),
    );
    expect(nested.message).toContain("rooms.chat.userStatus.cursor.x");
  });

  it("rejects a fallback of the wrong type", () => {
    const wrong = schemaErrorOf(() =>
      createSchema({ entities: { users: { age: t.number({ fallback: "zero" as unknown as number }) } } }),
    );
    expect(wrong.message).toContain("users.age");
    const notFinite = schemaErrorOf(() =>
      createSchema({ entities: { users: { age: t.number({ fallback: Number.NaN }) } } }),
    );
    expect(notFinite.message).toContain("users.age");
    const badDate = schemaErrorOf(() =>
      createSchema({ entities: { users: { born: t.date({ fallback: new Date("nope") }) } } }),
    );
    expect(badDate.message).toContain("users.born");
  });

  it("rejects a ref or refMany to an unknown entity", () => {
    const ref = schemaErrorOf(() => createSchema({ entities: { posts: { authorId: t.ref("authors") } } }));
    expect(ref.message).toContain("posts.authorId");
    expect(ref.message).toContain('"authors"');
    const many = schemaErrorOf(() => createSchema({ entities: { posts: { tagIds: t.refMany("tags") } } }));
    expect(many.message).toContain("posts.tagIds");
    expect(many.message).toContain('"tags"');
    const inherited = schemaErrorOf(() => createSchema({ entities: { posts: { parentId: t.ref("toString") } } }));
    expect(inherited.message).toContain('"toString"');
  });

  it("accepts refs to itself and to entities declared later", () => {
    const schema = createSchema({
      entities: {
        posts: { parentId: t.ref("posts"), tagIds: t.refMany("tags") },
        tags: { name: t.string({ fallback: "" }) },
      },
    });
    expect(schema.collections.posts!.fields.parentId!.target).toBe("posts");
  });

  it("rejects a room whose userStatus and roomStatus share a key", () => {
    const error = schemaErrorOf(() =>
      createSchema({
        entities: {},
        rooms: {
          editor: {
            userStatus: { title: t.string({ fallback: "" }), isTyping: t.boolean({ fallback: false }) },
            roomStatus: { title: t.string({ optional: true }) },
          },
        },
      }),
    );
    expect(error.message).toContain('"editor"');
    expect(error.message).toContain('"title"');
    expect(error.message).toContain("userStatus");
    expect(error.message).toContain("roomStatus");
  });

  it("allows an event to share a name with a status key", () => {
    const schema = createSchema({
      entities: {},
      rooms: {
        editor: { events: { title: t.string({ fallback: "" }) }, userStatus: { title: t.string({ fallback: "" }) } },
      },
    });
    expect(Object.keys(schema.roomSpecs.editor!.userStatus)).toEqual(["title"]);
  });

  it.each(["id", "createdAt", "updatedAt", "createdBy", "and", "or", "not"])(
    "rejects the reserved field name %s",
    (name) => {
      const error = schemaErrorOf(() => createSchema({ entities: { users: { [name]: t.string({ fallback: "" }) } } }));
      expect(error.message).toContain(`"${name}"`);
      expect(error.message).toContain("reserved");
    },
  );

  it("rejects reserved field names in rooms too", () => {
    const error = schemaErrorOf(() =>
      createSchema({ entities: {}, rooms: { chat: { userStatus: { id: t.string({ fallback: "" }) } } } }),
    );
    expect(error.message).toContain('"id"');
    expect(error.message).toContain("reserved");
  });

  it.each(["batch", "execute"])("rejects the reserved entity name %s", (name) => {
    const error = schemaErrorOf(() => createSchema({ entities: { [name]: { name: t.string({ fallback: "" }) } } }));
    expect(error.message).toContain(`"${name}"`);
    expect(error.message).toContain("reserved");
  });

  it.each(["__map_prefs", "__internal"])(
    "rejects the entity and room name %s: the __ prefix is reserved for key-value maps",
    (name) => {
      const entity = schemaErrorOf(() => createSchema({ entities: { [name]: { title: t.string({ fallback: "" }) } } }));
      expect(entity.message).toContain(`"${name}"`);
      expect(entity.message).toContain("reserved");
      const room = schemaErrorOf(() => createSchema({ entities: {}, rooms: { [name]: {} } }));
      expect(room.message).toContain(`"${name}"`);
      expect(room.message).toContain("reserved");
    },
  );

  it("accepts field names and names with an inner or single leading underscore", () => {
    const schema = createSchema({ entities: { _drafts: { __meta: t.json({ optional: true }) }, my__notes: {} } });
    expect(Object.keys(schema.collections)).toEqual(["_drafts", "my__notes"]);
  });

  it("rejects __proto__-like names for entities and fields", () => {
    const entities = JSON.parse('{"__proto__": {}}') as Record<string, Record<string, AnyFieldDef>>;
    expect(Object.keys(entities)).toEqual(["__proto__"]);
    expect(schemaErrorOf(() => createSchema({ entities })).message).toContain("__proto__");
    expect(schemaErrorOf(() => createSchema({ entities: { constructor: {} } })).message).toContain("constructor");
    expect(
      schemaErrorOf(() => createSchema({ entities: { users: { prototype: t.string({ fallback: "" }) } } })).message,
    ).toContain("prototype");
  });

  it.each(["", "my-users", "1users", "user name", "naïve", "a.b"])("rejects the bad entity name %j", (name) => {
    const error = schemaErrorOf(() => createSchema({ entities: { [name]: { title: t.string({ fallback: "" }) } } }));
    expect(error.message).toContain(JSON.stringify(name));
  });

  it.each(["", "first-name", "2nd", "with space", "a/b"])("rejects the bad field name %j", (name) => {
    const error = schemaErrorOf(() => createSchema({ entities: { users: { [name]: t.string({ fallback: "" }) } } }));
    expect(error.message).toContain(JSON.stringify(name));
    expect(error.message).toContain("users");
  });

  it("rejects bad room names", () => {
    expect(schemaErrorOf(() => createSchema({ entities: {}, rooms: { "doc-editor": {} } })).message).toContain(
      '"doc-editor"',
    );
  });

  it("accepts names with letters, digits and underscores", () => {
    const schema = createSchema({
      entities: { _users2: { first_name: t.string({ fallback: "" }), A1: t.number({ optional: true }) } },
    });
    expect(Object.keys(schema.collections._users2!.fields)).toEqual(["first_name", "A1"]);
  });

  it("rejects a definition that is not an object of entities", () => {
    expect(schemaErrorOf(() => createSchema(undefined as never)).message).toContain("entities");
    expect(schemaErrorOf(() => createSchema({} as never)).message).toContain("entities");
    expect(schemaErrorOf(() => createSchema({ entities: { users: null as never } })).message).toContain("users");
    expect(schemaErrorOf(() => createSchema({ entities: {}, rooms: { chat: null as never } })).message).toContain(
      '"chat"',
    );
  });
});
