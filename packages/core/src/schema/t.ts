import type { FieldDef, FieldSpec, FieldType } from "./field.js";

/** Any JSON value; the type of `t.json()` unless you give one. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Options every scalar field takes. */
export interface FieldOptions<TFallback> {
  /** May be omitted on create and removed later. */
  readonly optional?: boolean;
  /** What the field reads as when no (valid) value is stored. Required fields must have one. */
  readonly fallback?: TFallback;
}

type IsTrue<T> = T extends true ? true : false;
type HasFallback<O> = O extends { fallback: infer F } ? ([F] extends [undefined] ? false : true) : false;

/** The `FieldDef` a scalar builder returns for its options `O`. */
export type ScalarField<TValue, O> = FieldDef<
  TValue,
  IsTrue<O extends { optional: infer P } ? P : false>,
  HasFallback<O>
>;

/**
 * What `t.json` returns: its spec's `type` is `"json"` in the type too, so queries can refuse at
 * compile time what the engine refuses at run time (comparing or sorting JSON values).
 */
export type JsonField<TValue, TOptional extends boolean, TDefined extends boolean> = FieldDef<
  TValue,
  TOptional,
  TDefined
> & {
  readonly spec: { readonly type: "json" };
};

/** `T` itself, in a form the compiler does not infer `T` from (unlike `NoInfer`, it does not show in hovers). */
type Exactly<T> = [T] extends [infer V] ? V : never;

/**
 * `t.json`'s signatures. Overloads rather than a `const O` parameter, so that giving the value
 * type explicitly (`t.json<Prefs>({ optional: true })`) keeps what the options say; `NoInfer`
 * and `Exactly` keep the value type from being inferred as `any` from a contextual
 * `FieldDef<any>` (as inside `createSchema`).
 */
interface JsonFieldBuilder {
  <TValue extends JsonValue = JsonValue>(options: {
    readonly optional: true;
    readonly fallback: NoInfer<TValue>;
  }): JsonField<Exactly<TValue>, true, true>;
  <TValue extends JsonValue = JsonValue>(options: {
    readonly optional: true;
    readonly fallback?: undefined;
  }): JsonField<Exactly<TValue>, true, false>;
  <TValue extends JsonValue = JsonValue>(options: {
    readonly optional?: false;
    readonly fallback: NoInfer<TValue>;
  }): JsonField<Exactly<TValue>, false, true>;
  <TValue extends JsonValue = JsonValue>(options?: {
    readonly optional?: false;
    readonly fallback?: undefined;
  }): JsonField<Exactly<TValue>, false, false>;
  <TValue extends JsonValue = JsonValue>(
    options: FieldOptions<NoInfer<TValue>>,
  ): JsonField<Exactly<TValue>, boolean, boolean>;
}

/** The stored form of a fallback, so the query engine can apply it without the schema. */
function storedFallback(type: FieldType, fallback: unknown): unknown {
  if (type === "date" && fallback instanceof Date) return fallback.getTime();
  return fallback;
}

function scalar(type: FieldType, options: FieldOptions<unknown> | undefined, extra?: Partial<FieldSpec>): FieldDef {
  const spec: { -readonly [K in keyof FieldSpec]: FieldSpec[K] } = {
    type,
    optional: options?.optional === true,
    ...extra,
  };
  if (options !== undefined && "fallback" in options && options.fallback !== undefined) {
    spec.fallback = storedFallback(type, options.fallback);
  }
  return { spec };
}

/**
 * Field builders for `createSchema`.
 *
 * @example
 * const users = {
 *   name: t.string({ fallback: "" }),
 *   age: t.number({ optional: true }),
 *   lastLogin: t.date({ fallback: "now" }),
 *   bestFriendId: t.ref("users"),
 * };
 */
export const t = {
  /** A string. */
  string<const O extends FieldOptions<string> = {}>(options?: O): ScalarField<string, O> {
    return scalar("string", options) as ScalarField<string, O>;
  },
  /** A finite number. */
  number<const O extends FieldOptions<number> = {}>(options?: O): ScalarField<number, O> {
    return scalar("number", options) as ScalarField<number, O>;
  },
  /** `true` or `false`. */
  boolean<const O extends FieldOptions<boolean> = {}>(options?: O): ScalarField<boolean, O> {
    return scalar("boolean", options) as ScalarField<boolean, O>;
  },
  /** An instant, read as a `Date`. `fallback: "now"` fills the creation time when omitted. */
  date<const O extends FieldOptions<Date | "now"> = {}>(
    options?: O,
  ): FieldDef<
    Date,
    O extends { fallback: "now" } ? true : IsTrue<O extends { optional: infer P } ? P : false>,
    HasFallback<O>
  > {
    return scalar("date", options) as never;
  },
  /**
   * Any JSON value, stored whole (last writer wins for the whole value). Give the value type as
   * `t.json<Prefs>({ optional: true })`.
   */
  json: ((options?: FieldOptions<JsonValue>) => scalar("json", options)) as JsonFieldBuilder,
  /** A reference to one document of `target`; always optional. */
  ref<const TTarget extends string>(target: TTarget): FieldDef<string, true, false> & { readonly target: TTarget } {
    return { spec: { type: "ref", optional: true, target }, target };
  },
  /** A set of references to documents of `target`; reads as `[]` when empty. */
  refMany<const TTarget extends string>(
    target: TTarget,
  ): FieldDef<string[], true, true> & { readonly target: TTarget } {
    return { spec: { type: "refMany", optional: true, target }, target };
  },
  /** An object of fields (room payloads and statuses only). */
  object<const TFields extends Record<string, FieldDef>, const O extends FieldOptions<never> = {}>(
    fields: TFields,
    options?: O,
  ): FieldDef<ObjectValue<TFields>, IsTrue<O extends { optional: infer P } ? P : false>, true> {
    const specs: Record<string, FieldSpec> = {};
    for (const [name, field] of Object.entries(fields)) specs[name] = field.spec;
    return { spec: { type: "object", optional: options?.optional === true, fields: specs } } as never;
  },
  /** An array of one element type (room payloads and statuses only). */
  array<const TItem extends FieldDef, const O extends FieldOptions<never> = {}>(
    items: TItem,
    options?: O,
  ): FieldDef<FieldValue<TItem>[], IsTrue<O extends { optional: infer P } ? P : false>, true> {
    return { spec: { type: "array", optional: options?.optional === true, items: items.spec } } as never;
  },
};

/** The value type of a field definition. */
export type FieldValue<F> = F extends FieldDef<infer V, boolean, boolean> ? V : never;

type OptionalKeys<TFields> = {
  [K in keyof TFields]: TFields[K] extends FieldDef<any, infer O, infer D>
    ? O extends true
      ? D extends true
        ? never
        : K
      : never
    : never;
}[keyof TFields];

/** The value of a `t.object`: fields that always read as defined are required. */
export type ObjectValue<TFields> = Flatten<
  { [K in Exclude<keyof TFields, OptionalKeys<TFields>>]: FieldValue<TFields[K]> } & {
    [K in OptionalKeys<TFields>]?: FieldValue<TFields[K]>;
  }
>;

/** One object type rather than an intersection (reads better in hovers, compares equal in type tests). */
type Flatten<T> = { [K in keyof T]: T[K] } & {};
