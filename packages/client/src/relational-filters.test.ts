import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { createClient } from "./index.js";

// Runs the "Filtering through relations" sample of docs/queries.md on a local client with the
// guides' schema: a guide step no test runs is not known to work.

const schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }), isAdult: t.boolean({ fallback: false }) },
    posts: {
      title: t.string({ fallback: "" }),
      published: t.boolean({ fallback: false }),
      authorId: t.ref("users"),
      tagIds: t.refMany("tags"),
    },
    tags: { name: t.string({ fallback: "" }) },
  },
});

function sample(): string {
  const text = readFileSync(fileURLToPath(new URL("../../../docs/queries.md", import.meta.url)), "utf8");
  const code = /```ts\n([\s\S]*?)```/.exec(text.slice(text.indexOf("### Filtering through relations")))?.[1];
  if (code === undefined) throw new Error("docs/queries.md has no sample under “Filtering through relations”");
  return code;
}

describe("docs/queries.md, filtering through relations", () => {
  it("answers the sample's queries, and follows a related change live", async () => {
    const client = createClient({ schema });
    const { users, posts, tags } = client.database;
    const ada = (await users.create({ name: "Ada", isAdult: true })).data!;
    const kid = (await users.create({ name: "Kid", isAdult: false })).data!;
    const news = (await tags.create({ name: "news" })).data!;
    await posts.create({ title: "adult news", authorId: ada.id, tagIds: [news.id], published: true });
    await posts.create({ title: "adult, untagged", authorId: ada.id, tagIds: [], published: false });
    await posts.create({ title: "kid news", authorId: kid.id, tagIds: [news.id], published: false });
    await posts.create({ title: "nobody's news", authorId: "gone", tagIds: [news.id], published: true });

    const run = new Function("client", `return (async () => {\n${sample()}\nreturn { byAdults, authors };\n})();`) as (
      client: unknown,
    ) => Promise<{ byAdults: { title: string }[]; authors: { name: string }[] }>;
    const { byAdults, authors } = await run(client);
    expect(byAdults.map((post) => post.title)).toEqual(["adult news"]);
    expect(authors.map((user) => user.name)).toEqual(["Ada"]);

    const seen: string[][] = [];
    posts.subscribe(
      { fields: { title: true }, where: { authorId: { where: { isAdult: true } } }, orderBy: ["title", "asc"] },
      (data) => {
        if (data !== undefined) seen.push(data.map((post) => post.title));
      },
    );
    await users.update({ id: kid.id, fields: { isAdult: true } });
    expect(seen.at(-1)).toEqual(["adult news", "adult, untagged", "kid news"]);
  });
});
