/**
 * The building blocks of the protocol's message schemas: each schema reads an untrusted JSON
 * value into a typed one, and its type is where the message types come from, so a message's
 * TypeScript type and its validation cannot drift apart. Reading stops at the first problem,
 * thrown as an {@link Invalid} naming where it is; `parse.ts` turns it into a PROTOCOL error.
 */

/** Where a check failed and why; caught at the boundary and turned into a PROTOCOL error. */
export class Invalid {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {}
}

/**
 * Reads one JSON value found at `path` (as "query.where[0].field") into a T, or throws an
 * {@link Invalid}.
 *
 * @example
 * const port: WireSchema<number> = {
 *   read(value, path) {
 *     if (typeof value !== "number") throw new Invalid(path, `expected a number, got ${describe(value)}`);
 *     return value;
 *   },
 * };
 * port.read("80", "port"); // throws Invalid("port", 'expected a number, got the string "80"')
 */
export interface WireSchema<T> {
  readonly read: (value: unknown, path: string) => T;
}

/** A field that may be left out: an absent (or undefined) value is not read. */
export interface OptionalSchema<T> extends WireSchema<T> {
  readonly isOptional: true;
}

/** A field whose key must be there: when it is absent, `missing` says what is wrong. */
export interface PresentSchema<T> extends WireSchema<T> {
  readonly missing: string;
}

/** The type a schema reads. */
export type WireType<S> = S extends WireSchema<infer T> ? T : never;

/** The fields of an object schema, by key, in the order they are checked and written. */
export type WireFields = Readonly<Record<string, WireSchema<unknown>>>;

type OptionalKeys<F extends WireFields> = { [K in keyof F]: F[K] extends OptionalSchema<unknown> ? K : never }[keyof F];

/** The object type of some fields: readonly, with the optional ones marked `?`. */
export type FieldsType<F extends WireFields> = Flat<
  { readonly [K in Exclude<keyof F, OptionalKeys<F>>]: WireType<F[K]> } & {
    readonly [K in OptionalKeys<F>]?: WireType<F[K]>;
  }
>;

type Flat<T> = { [K in keyof T]: T[K] } & {};

type Obj = Record<string, unknown>;

/**
 * A value as error messages show it: its kind, and strings and numbers themselves (long
 * strings cut).
 *
 * @example describe([1]) // "an array"
 */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string")
    return value.length > 40 ? `a string "${value.slice(0, 40)}…"` : `the string ${JSON.stringify(value)}`;
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

/**
 * A JSON object (not null, not an array).
 *
 * @example const raw = readRecord(value, "details");
 */
export function readRecord(value: unknown, path: string): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Invalid(path, `expected an object, got ${describe(value)}`);
  return value as Obj;
}

/**
 * A JSON object whose keys are all among `allowed` (named in order in the error).
 *
 * @example const raw = readKnownKeys(value, path, ["keys", "id"]);
 */
export function readKnownKeys(value: unknown, path: string, allowed: readonly string[]): Obj {
  const raw = readRecord(value, path);
  // for…in walks the keys without making an array of them (a batch checks thousands of triples);
  // it also walks inherited keys, which do not count.
  for (const key in raw) {
    if (!allowed.includes(key) && Object.hasOwn(raw, key))
      throw new Invalid(path, `unknown key ${JSON.stringify(key)} (expected ${allowed.join(", ")})`);
  }
  return raw;
}

/**
 * A schema from a read function.
 *
 * @example const id = schema((value, path) => readId(value, path));
 */
/* @__NO_SIDE_EFFECTS__ */
export function schema<T>(read: (value: unknown, path: string) => T): WireSchema<T> {
  return { read };
}

/**
 * A field that may be absent: then it is not checked and stays out of the result.
 *
 * @example object({ token: optional(token) }) // reads {} as {}
 */
/* @__NO_SIDE_EFFECTS__ */
export function optional<T>(inner: WireSchema<T>): OptionalSchema<T> {
  return { read: inner.read, isOptional: true };
}

/**
 * `null`, or what `inner` reads.
 *
 * @example nullable(userId).read(null, "userId") // null
 */
/* @__NO_SIDE_EFFECTS__ */
export function nullable<T>(inner: WireSchema<T>): WireSchema<T | null> {
  return { read: (value, path) => (value === null ? null : inner.read(value, path)) };
}

/**
 * A field whose key must be there, whatever its value (null included): when absent, `reason`
 * says what is missing.
 *
 * @example object({ data: present(jsonValue) }) // refuses {} with "data: missing"
 */
/* @__NO_SIDE_EFFECTS__ */
export function present<T>(inner: WireSchema<T>, reason = "missing"): PresentSchema<T> {
  return { read: inner.read, missing: reason };
}

/**
 * A JSON array whose every item `item` reads, with at most `max` items (`what` names them in
 * the error).
 *
 * @example list(documentRef) // readonly DocumentRef[]
 */
/* @__NO_SIDE_EFFECTS__ */
export function list<T>(item: WireSchema<T>, max?: number, what = "items"): WireSchema<readonly T[]> {
  return {
    read(value, path) {
      const raw = max === undefined ? readArray(value, path) : readList(value, path, max, what);
      const out: T[] = [];
      for (let index = 0; index < raw.length; index++) out.push(item.read(raw[index], `${path}[${index}]`));
      return out;
    },
  };
}

/**
 * A JSON array, its items unchecked.
 *
 * @example const pair = readArray(value, path);
 */
export function readArray(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new Invalid(path, `expected an array, got ${describe(value)}`);
  return value;
}

/**
 * A JSON array of at most `max` items, unchecked (`what` names them in the error).
 *
 * @example readList(raw.select, "query.select", 512, "fields")
 */
export function readList(value: unknown, path: string, max: number, what: string): readonly unknown[] {
  const raw = readArray(value, path);
  if (raw.length > max) throw new Invalid(path, `at most ${max} ${what}, got ${raw.length}`);
  return raw;
}

/**
 * How the fields of an object are read, as parallel arrays walked by index: the fields of every
 * schema go through the same loop, and this keeps it cheap.
 */
interface FieldReaders {
  readonly keys: readonly string[];
  readonly reads: ReadonlyArray<(value: unknown, path: string) => unknown>;
  /** 0: required; 1: optional; 2: required and present (then `missing` says why when absent). */
  readonly kinds: readonly number[];
  readonly missing: ReadonlyArray<string | undefined>;
  /** Every key the object may hold, `type` first in a message: what an unknown key's error lists. */
  readonly allowed: readonly string[];
}

function fieldReaders(fields: WireFields, type: string | undefined): FieldReaders {
  const entries = Object.entries(fields);
  const keys = entries.map(([key]) => key);
  return {
    keys,
    reads: entries.map(([, each]) => each.read),
    kinds: entries.map(([, each]) =>
      (each as Partial<OptionalSchema<unknown>>).isOptional === true
        ? 1
        : (each as Partial<PresentSchema<unknown>>).missing === undefined
          ? 0
          : 2,
    ),
    missing: entries.map(([, each]) => (each as Partial<PresentSchema<unknown>>).missing),
    allowed: type === undefined ? keys : ["type", ...keys],
  };
}

/**
 * Reads the fields of `raw`, in order: an optional field only when set, a required one always
 * (an absent value is read as undefined, and may be accepted as such). `path` "" is the top of a
 * message (`type` its type), whose fields are named without a prefix.
 *
 * Most frames are already what they read as: every field reads as the value it holds (ids,
 * strings, cursors). Then `raw` itself is the result, and nothing is copied; a copy is made at
 * the first field that reads as another value (a list, a query).
 */
function readFields(raw: Obj, readers: FieldReaders, path: string, type: string | undefined): Obj {
  const { keys, reads, kinds } = readers;
  readKnownKeys(raw, type ?? path, readers.allowed);
  let out: Obj | undefined = type !== undefined && raw.type !== type ? { ...raw, type } : undefined;
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!;
    const value = raw[key];
    if (value === undefined) {
      const kind = kinds[index];
      if (kind === 1) continue;
      if (kind === 2 && !Object.hasOwn(raw, key))
        throw new Invalid(path === "" ? key : `${path}.${key}`, readers.missing[index]!);
    }
    const read = reads[index]!(value, path === "" ? key : `${path}.${key}`);
    // The fields before this one read as themselves, and the later ones are written over.
    if (out === undefined && (read !== value || value === undefined))
      out = type === undefined ? { ...raw } : { ...raw, type };
    if (out !== undefined) out[key] = read;
  }
  return out ?? raw;
}

/**
 * A JSON object with these fields and no other keys. What it reads may be the value itself,
 * when that already holds exactly these fields, each as it reads.
 *
 * @example
 * import { MAX_STRING_ID, name, text } from "./wire-values.js";
 * const documentRef = object({ collection: name, id: text(MAX_STRING_ID) }); // { collection: string; id: string }
 * documentRef.read({ collection: "todos", id: "t1", rev: 2 }, "revoked[0]"); // throws: unknown key "rev"
 */
/* @__NO_SIDE_EFFECTS__ */
export function object<F extends WireFields>(fields: F): WireSchema<FieldsType<F>> {
  const readers = fieldReaders(fields, undefined);
  return {
    read: (value, path) => readFields(readRecord(value, path), readers, path, undefined) as FieldsType<F>,
  };
}

/** A message type's schema: its `type` and the schema of its other fields. */
export interface MessageSchema<Type extends string, F extends WireFields> extends WireSchema<
  Flat<{ readonly type: Type } & FieldsType<F>>
> {
  readonly type: Type;
}

/**
 * One message type: an object whose `type` is `type`, with these fields and no other keys.
 * Errors name its fields from the top ("cursor", "query.where"), and an unknown key by the
 * message type. Like {@link object}, what it reads may be the value itself.
 *
 * @example
 * import { cursor, id } from "./wire-values.js";
 * const ack = message("ack", { batchId: id, cursor }); // { type: "ack"; batchId: string; cursor: string }
 * ack.read({ type: "ack", batchId: "b1", cursor: "c42" }, ""); // { type: "ack", batchId: "b1", cursor: "c42" }
 */
/* @__NO_SIDE_EFFECTS__ */
export function message<Type extends string, F extends WireFields>(type: Type, fields: F): MessageSchema<Type, F> {
  const readers = fieldReaders(fields, type);
  return {
    type,
    read: (value) =>
      readFields(readRecord(value, type), readers, "", type) as Flat<{ readonly type: Type } & FieldsType<F>>,
  };
}

/**
 * The messages of one side, told apart by their `type`; an unknown type is refused naming
 * them all, in order.
 *
 * @example
 * import { cursor, hlc, id, userId } from "./wire-values.js";
 * const welcome = message("welcome", { serverHlc: hlc, userId: nullable(userId) });
 * const ack = message("ack", { batchId: id, cursor });
 * const serverMessages = messages([welcome, ack]); // WireSchema<WelcomeMessage | AckMessage>
 * serverMessages.read({ type: "pong" }, ""); // throws: unknown message type the string "pong" (expected welcome, ack)
 */
/* @__NO_SIDE_EFFECTS__ */
export function messages<M extends ReadonlyArray<MessageSchema<string, WireFields>>>(
  all: M,
): WireSchema<WireType<M[number]>> {
  // A prototype-less object: a `type` such as "toString" finds nothing.
  const byType: Record<string, MessageSchema<string, WireFields> | undefined> = Object.create(null);
  for (const each of all) byType[each.type] = each;
  const expected = all.map((each) => each.type).join(", ");
  return {
    read(value, path) {
      const raw = readRecord(value, path);
      const each = typeof raw.type === "string" ? byType[raw.type] : undefined;
      if (each === undefined)
        throw new Invalid("type", `unknown message type ${describe(raw.type)} (expected ${expected})`);
      return each.read(raw, path) as WireType<M[number]>;
    },
  };
}
