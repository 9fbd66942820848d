import { describe, expect, it } from "vitest";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { normalizeQuery } from "./normalize.js";
import { decodeDocs, encodeDocs } from "./preload-codec.js";

const schema = createSchema({
  entities: {
    users: {
      name: t.string({ fallback: "" }),
      age: t.number({ optional: true }),
      isAdult: t.boolean({ fallback: false }),
      lastLogin: t.date({ optional: true }),
      prefs: t.json({ optional: true }),
      friendIds: t.refMany("users"),
    },
    posts: {
      title: t.string({ fallback: "" }),
      publishedAt: t.date({ fallback: "now" }),
      authorId: t.ref("users"),
    },
  },
});

function normalize(collection: "users" | "posts", query: unknown) {
  const result = normalizeQuery(schema.collections[collection]!, query, schema.collections);
  if (result.error) throw result.error;
  return result.data;
}

const usersQuery = normalize("users", {
  fields: {
    id: true,
    name: true,
    age: true,
    isAdult: true,
    lastLogin: true,
    prefs: true,
    friendIds: true,
    posts: { fields: { title: true, publishedAt: true } },
  },
});
const postsQuery = normalize("posts", {
  fields: { title: true, authorId: { fields: { name: true, lastLogin: true } } },
});

const ada = {
  id: "u1",
  name: "Ada",
  age: 36,
  isAdult: true,
  lastLogin: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
  // JSON values pass through untouched, even ones that look like tags of other codecs.
  prefs: { theme: "dark", $date: 5, nested: [1, "two", null, { deep: true }] },
  friendIds: ["u2", "u3"],
  posts: [
    { title: "Notes", publishedAt: new Date(0) },
    { title: "Engines", publishedAt: new Date(-86_400_000) },
  ],
};
const bob = {
  id: "u2",
  name: "Bob",
  age: undefined,
  isAdult: false,
  lastLogin: undefined,
  prefs: undefined,
  friendIds: [],
  posts: [],
};

describe("preload codec", () => {
  it("encodes Dates as epoch ms and leaves out undefined fields, through relations", () => {
    const encoded = encodeDocs(usersQuery, [ada, bob]);
    expect(encoded).toEqual([
      {
        ...ada,
        lastLogin: ada.lastLogin.getTime(),
        posts: [
          { title: "Notes", publishedAt: 0 },
          { title: "Engines", publishedAt: -86_400_000 },
        ],
      },
      { id: "u2", name: "Bob", isAdult: false, friendIds: [], posts: [] },
    ]);
    expect(Object.keys(encoded[1]!)).not.toContain("age");
  });

  it("decodes back to documents equal to the originals, every selected key present, after JSON", () => {
    const wire = JSON.parse(JSON.stringify(encodeDocs(usersQuery, [ada, bob])));
    const decoded = decodeDocs(usersQuery, wire);
    expect(decoded.error).toBeUndefined();
    expect(decoded.data).toEqual([ada, bob]);
    expect(decoded.data![0]!.lastLogin).toBeInstanceOf(Date);
    expect((decoded.data![0]!.posts as Array<{ publishedAt: Date }>)[1]!.publishedAt).toEqual(new Date(-86_400_000));
    expect(Object.keys(decoded.data![1]!)).toEqual(Object.keys(bob));
    // Decoded JSON values are copies: changing them cannot change the input.
    (decoded.data![0]!.prefs as { theme: string }).theme = "light";
    expect(wire[0].prefs.theme).toBe("dark");
  });

  it("round-trips single relations, present and missing", () => {
    const docs = [
      { title: "A", authorId: { name: "Ada", lastLogin: new Date(5) } },
      { title: "B", authorId: undefined },
    ];
    const decoded = decodeDocs(postsQuery, JSON.parse(JSON.stringify(encodeDocs(postsQuery, docs))));
    expect(decoded.data).toEqual(docs);
    expect(Object.keys(decoded.data![1]!)).toEqual(["title", "authorId"]);
  });

  it("rejects data that does not fit the query", () => {
    const bad: unknown[] = [
      "nope",
      [null],
      [{ id: "u1", lastLogin: "2024-01-01" }],
      [{ id: "u1", age: "36" }],
      [{ id: "u1", friendIds: "u2" }],
      [{ id: "u1", prefs: { when: new Date() } }],
      [{ id: "u1", unknown: 1 }],
      [{ id: "u1", posts: {} }],
      [{ id: "u1", posts: [{ title: 5 }] }],
    ];
    for (const data of bad) {
      const decoded = decodeDocs(usersQuery, data);
      expect(decoded.error?.code, JSON.stringify(data)).toBe("VALIDATION");
    }
  });
});
