/**
 * The data every peer is fed: documents, W2 query parameters, W3 live queries and writes. All of
 * it comes from one seeded generator, so every peer (each in its own process) sees the same.
 */

/** A seeded uniform generator in [0, 1) (mulberry32). */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** A whole number in [0, count). */
export function pick(random: () => number, count: number): number {
  return Math.floor(random() * count);
}

export const TAG_COUNT = 20;
/** The tag strings, shared by every document (as values parsed once would be). */
export const TAGS: readonly string[] = Array.from({ length: TAG_COUNT }, (_, i) => `tag${i}`);

/** `count` tag strings: `tag0`, `tag1`, … (the first 20 are {@link TAGS}). */
function tagsOf(count: number): readonly string[] {
  return Array.from({ length: count }, (_, i) => (i < TAG_COUNT ? TAGS[i]! : `tag${i}`));
}
/** Document i was created at BASE_TIME + i ms: distinct, so `createdAt desc` is a strict order. */
export const BASE_TIME = Date.UTC(2024, 0, 1);

/** One document as the peers store it (`createdAt` in epoch ms). */
export interface Todo {
  readonly id: string;
  readonly title: string;
  readonly tag: string;
  readonly priority: number;
  readonly done: boolean;
  readonly createdAt: number;
}

const ID_ALPHABET = "ModuleSymbhasOwnPr-0123456789ABCDEFGHNRVfgctiUvz_KqYTJkLxpZXIjQW";

/**
 * A 21-character id, shaped (and sized) like the nanoids Trellis generates. Built in one piece,
 * so it is a flat string, as ids parsed from JSON or read from storage are (appending character
 * by character would leave a chain of V8 cons strings several times the size).
 */
function idFrom(random: () => number): string {
  const codes = new Array<number>(21);
  for (let i = 0; i < 21; i++) codes[i] = ID_ALPHABET.charCodeAt(pick(random, 64));
  return String.fromCharCode(...codes);
}

/**
 * Deterministic documents: call `next()` for document 0, 1, 2, … Generating lazily lets a
 * memory measurement count the documents' strings without keeping an input array alive.
 */
export function createTodoSource(seed: number, tagCount = TAG_COUNT): { next(): Todo } {
  const random = createRandom(seed);
  const tags = tagCount === TAG_COUNT ? TAGS : tagsOf(tagCount);
  let index = 0;
  return {
    next(): Todo {
      const i = index++;
      return {
        id: idFrom(random),
        title: `todo ${i}`,
        tag: tags[pick(random, tagCount)]!,
        priority: pick(random, 10),
        done: random() < 0.3,
        createdAt: BASE_TIME + i,
      };
    },
  };
}

/** The first `count` documents of a seed (over `tagCount` tags; 20 unless said). */
export function makeTodos(count: number, seed: number, tagCount = TAG_COUNT): Todo[] {
  const source = createTodoSource(seed, tagCount);
  return Array.from({ length: count }, () => source.next());
}

/** W2: `where priority > threshold and tag == tag order by createdAt desc limit 50`. */
export interface W2Query {
  readonly tag: string;
  readonly threshold: number;
}

export const W2_LIMIT = 50;

/** Distinct W2 parameter pairs (20 tags x thresholds 0-8), shuffled; at most 180. */
export function w2Queries(count: number, seed: number): W2Query[] {
  const all: W2Query[] = [];
  for (const tag of TAGS) for (let threshold = 0; threshold <= 8; threshold++) all.push({ tag, threshold });
  const random = createRandom(seed ^ 0x5eed);
  for (let i = all.length - 1; i > 0; i--) {
    const j = pick(random, i + 1);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  if (count > all.length) throw new Error(`W2 has only ${all.length} distinct queries; asked for ${count}.`);
  return all.slice(0, count);
}

/** W3: `where tag == tag and low <= priority <= high order by createdAt desc limit 10`. */
export interface W3Query {
  readonly tag: string;
  readonly low: number;
  readonly high: number;
}

export const W3_LIMIT = 10;

/**
 * Distinct W3 live queries: query k takes tag k mod `tagCount` (20 unless said) and the
 * (k div `tagCount`)-th priority range.
 */
export function w3Queries(count: number, tagCount = TAG_COUNT): W3Query[] {
  const ranges: Array<[number, number]> = [];
  for (let low = 0; low <= 9; low++) for (let high = low; high <= 9; high++) ranges.push([low, high]);
  if (count > tagCount * ranges.length) throw new Error(`W3 has only ${tagCount * ranges.length} distinct queries.`);
  const tags = tagsOf(tagCount);
  return Array.from({ length: count }, (_, k) => {
    const [low, high] = ranges[Math.floor(k / tagCount)]!;
    return { tag: tags[k % tagCount]!, low, high };
  });
}

/** The sizes of a W3 run: documents, the tags they spread over, live queries. */
export interface W3Shape {
  readonly docCount: number;
  readonly tagCount: number;
  readonly queryCount: number;
}

/**
 * W3's sizes, or W3L's: W3 at scale, with as many tags as keep 50 live queries per tag and as
 * many documents as keep W3's documents per tag, so a write can affect about as many queries
 * (and change as many results) as in W3 while ten times as many cannot.
 */
export function w3Shape(
  config: { readonly w3Docs: number; readonly w3Queries: number; readonly w3lQueries: number },
  workload: "W3" | "W3L",
): W3Shape {
  if (workload === "W3") return { docCount: config.w3Docs, tagCount: TAG_COUNT, queryCount: config.w3Queries };
  const tagCount = Math.max(TAG_COUNT, Math.ceil(config.w3lQueries / 50));
  return {
    docCount: Math.round((config.w3Docs * tagCount) / TAG_COUNT),
    tagCount,
    queryCount: config.w3lQueries,
  };
}

/** One W3 write: a single field of one document. */
export type W3Write =
  | { readonly doc: number; readonly field: "tag"; readonly value: string }
  | { readonly doc: number; readonly field: "priority"; readonly value: number }
  | { readonly doc: number; readonly field: "title"; readonly value: string };

/** Random single-field writes: a random document, a random field among tag/priority/title. */
export function w3Writes(count: number, docCount: number, seed: number, tagCount = TAG_COUNT): W3Write[] {
  const random = createRandom(seed ^ 0x3333);
  const tags = tagsOf(tagCount);
  return Array.from({ length: count }, (_, w): W3Write => {
    const doc = pick(random, docCount);
    const kind = pick(random, 3);
    if (kind === 0) return { doc, field: "tag", value: tags[pick(random, tagCount)]! };
    if (kind === 1) return { doc, field: "priority", value: pick(random, 10) };
    return { doc, field: "title", value: `todo ${doc} v${w}` };
  });
}

/** An order-sensitive 32-bit hash of strings (FNV-1a), to check peers return the same rows. */
export function createChecksum(): { add(text: string): void; value(): string } {
  let hash = 0x811c9dc5;
  return {
    add(text: string) {
      for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
      hash = Math.imul(hash ^ 0x2c, 0x01000193);
    },
    value: () => (hash >>> 0).toString(16).padStart(8, "0"),
  };
}

// ---- W5: relations (users with their latest published posts) ----

/** A W5 user: `createdAt` of user i is BASE_TIME + i. */
export interface User {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
}

/** A W5 post: `createdAt` of post j is BASE_TIME + (user count) + j, after every user. */
export interface Post {
  readonly id: string;
  readonly title: string;
  readonly published: boolean;
  readonly authorId: string;
  readonly createdAt: number;
}

/** W5's nested query: each user's latest published posts, at most this many. */
export const W5_LIMIT = 10;

/** W5's data set: users, then posts with a random author each and about half published. */
export function makeW5Data(userCount: number, postCount: number, seed: number): { users: User[]; posts: Post[] } {
  const random = createRandom(seed ^ 0x5555);
  const users = Array.from({ length: userCount }, (_, i): User => ({
    id: idFrom(random),
    name: `user ${i}`,
    createdAt: BASE_TIME + i,
  }));
  const posts = Array.from({ length: postCount }, (_, j): Post => ({
    id: idFrom(random),
    title: `post ${j}`,
    published: random() < 0.5,
    authorId: users[pick(random, userCount)]!.id,
    createdAt: BASE_TIME + userCount + j,
  }));
  return { users, posts };
}

/** One W5 write to post `post` (an index into the posts): a new title, a published flip, a new author. */
export type W5Write =
  | { readonly post: number; readonly field: "title"; readonly value: string }
  | { readonly post: number; readonly field: "published"; readonly value: boolean }
  | { readonly post: number; readonly field: "authorId"; readonly value: string };

/**
 * Random W5 writes, each kind with equal chance. A flip sets the opposite of the post's value at
 * that point of the sequence, so every peer applies the very same values.
 */
export function w5Writes(count: number, users: readonly User[], posts: readonly Post[], seed: number): W5Write[] {
  const random = createRandom(seed ^ 0x5e5e);
  const published = posts.map((post) => post.published);
  return Array.from({ length: count }, (_, w): W5Write => {
    const post = pick(random, posts.length);
    const kind = pick(random, 3);
    if (kind === 0) return { post, field: "title", value: `post ${post} v${w}` };
    if (kind === 1) return { post, field: "published", value: (published[post] = !published[post]) };
    return { post, field: "authorId", value: users[pick(random, users.length)]!.id };
  });
}

/** One row of W5's result: a user with the ids and titles of its latest published posts. */
export interface UserWithPosts {
  readonly id: string;
  readonly name: string;
  readonly posts: ReadonlyArray<{ readonly id: string; readonly title: string }>;
}

/** Whether two rows of W5's result show the same posts (ids and titles, in order). */
export function samePosts(a: UserWithPosts, b: UserWithPosts): boolean {
  if (a.posts.length !== b.posts.length) return false;
  for (let i = 0; i < a.posts.length; i++) {
    if (a.posts[i]!.id !== b.posts[i]!.id || a.posts[i]!.title !== b.posts[i]!.title) return false;
  }
  return true;
}

/** W5's cross-check: users in id order (whatever order a peer returns them in), posts in result order. */
export function w5Checksum(rows: readonly UserWithPosts[]): string {
  const checksum = createChecksum();
  for (const user of [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    checksum.add(user.id);
    checksum.add(user.name);
    for (const post of user.posts) {
      checksum.add(post.id);
      checksum.add(post.title);
    }
    checksum.add("|");
  }
  return checksum.value();
}

// ---- W6: aggregates (group by tag: count, sum of score, average priority) ----

/** A W6 document. */
export interface Item {
  readonly id: string;
  readonly tag: string;
  readonly priority: number;
  /** A whole number in [0, 1000): sums stay exact in every peer. */
  readonly score: number;
  readonly createdAt: number;
}

export function makeItems(count: number, seed: number): Item[] {
  const random = createRandom(seed ^ 0x6666);
  return Array.from({ length: count }, (_, i): Item => ({
    id: idFrom(random),
    tag: TAGS[pick(random, TAG_COUNT)]!,
    priority: pick(random, 10),
    score: pick(random, 1000),
    createdAt: BASE_TIME + i,
  }));
}

/** One W6 write: a single field of one document. */
export type W6Write =
  | { readonly doc: number; readonly field: "tag"; readonly value: string }
  | { readonly doc: number; readonly field: "priority"; readonly value: number }
  | { readonly doc: number; readonly field: "score"; readonly value: number };

/** Random single-field writes: a random document, a random field among tag/priority/score. */
export function w6Writes(count: number, docCount: number, seed: number): W6Write[] {
  const random = createRandom(seed ^ 0x6e6e);
  return Array.from({ length: count }, (): W6Write => {
    const doc = pick(random, docCount);
    const kind = pick(random, 3);
    if (kind === 0) return { doc, field: "tag", value: TAGS[pick(random, TAG_COUNT)]! };
    if (kind === 1) return { doc, field: "priority", value: pick(random, 10) };
    return { doc, field: "score", value: pick(random, 1000) };
  });
}

/** One row of W6's result: `group by tag` with `count(*)`, `sum(score)`, `avg(priority)`. */
export interface TagAggregate {
  readonly tag: string;
  readonly count: number;
  readonly sumScore: number;
  readonly avgPriority: number | undefined;
}

/**
 * W6's cross-check: rows in tag order. Averages are compared to 4 decimals: TinyBase keeps a
 * live average by running updates (`avg + (add - remove) / n`), which drifts in the last bits.
 */
export function w6Checksum(rows: readonly TagAggregate[]): string {
  const checksum = createChecksum();
  for (const row of [...rows].sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0))) {
    checksum.add(
      `${row.tag}:${row.count}:${row.sumScore}:${row.avgPriority === undefined ? "-" : row.avgPriority.toFixed(4)}`,
    );
  }
  return checksum.value();
}
