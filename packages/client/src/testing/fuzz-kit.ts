/**
 * Helpers of the client's model (fuzz) tests: the run's seed, seeded randomness, and strict
 * equality and copies of query results. Test support only; not exported from the package.
 */

/**
 * The seed of a run: `SEED` from the environment (an integer), or the test's fixed default.
 * @example const SEED = seedOf(process.env.SEED, 0x5eed_2024);
 */
export function seedOf(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new TypeError(`SEED must be an integer, got ${JSON.stringify(raw)}.`);
  return seed;
}

/**
 * mulberry32: small, fast, and fully determined by the seed.
 * @example const random = createRandom(SEED); random.pick(["a", "b"]);
 */
export function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => next() < p;
  const subset = <T>(items: readonly T[], p: number): T[] => items.filter(() => chance(p));
  return { next, int, pick, chance, subset };
}

/**
 * Deep equality of query results: Dates by instant, plain objects by own keys (a key holding
 * undefined differs from a missing one), arrays in order.
 * @example sameResult([{ a: new Date(0) }], [{ a: new Date(0) }]) // true
 */
export function sameResult(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date || b instanceof Date)
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((each, i) => sameResult(each, other[i]));
  }
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  return (
    keysA.length === keysB.length &&
    keysA.every(
      (key) =>
        Object.hasOwn(b, key) && sameResult((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
    )
  );
}

/**
 * Copies a query result (documents of plain values, Dates, arrays and JSON), so a later mutation
 * of delivered data cannot hide a change.
 * @example const snapshot = copyResult(data);
 */
export function copyResult(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Date) return new Date(value.getTime());
  if (Array.isArray(value)) return value.map(copyResult);
  return Object.fromEntries(
    Object.keys(value).map((key) => [key, copyResult((value as Record<string, unknown>)[key])]),
  );
}

/** A document or query as the fuzzers build them: untyped, decided at run time. */
export type LooseDoc = Record<string, unknown>;
type LooseResult<T> = Promise<{ data?: T; error?: { code: string; message: string } }>;
export type LooseCallback = (data: unknown, error: unknown, loading: boolean) => void;
type LooseSubscription = {
  getCurrentState(): { data: unknown; error: unknown; loading: boolean };
  unsubscribe(): void;
};

/** The collection API without the schema's types: the fuzzers build queries at run time. */
export interface LooseCollection {
  create(fields: LooseDoc): LooseResult<LooseDoc>;
  update(args: { id: string; fields: unknown }): LooseResult<void>;
  replace(args: { id: string; fields: unknown }): LooseResult<void>;
  delete(id: string): LooseResult<void>;
  updateMany(args: { where?: LooseDoc; fields: unknown }): LooseResult<{ count: number }>;
  deleteMany(args: { where?: LooseDoc }): LooseResult<{ count: number }>;
  query(query: LooseDoc): LooseResult<LooseDoc[]>;
  queryOne(query: LooseDoc): LooseResult<LooseDoc | undefined>;
  subscribe(query: LooseDoc, callback: LooseCallback): LooseSubscription;
  subscribeOne(query: LooseDoc, callback: LooseCallback): LooseSubscription;
}

/** `database.batch` without the schema's types, for collections `C`. */
export type LooseBatch<C extends string> = { readonly [K in C]: Record<string, (...args: never[]) => unknown> } & {
  execute(ops: unknown[]): LooseResult<Array<{ error?: { code: string } }>>;
};
