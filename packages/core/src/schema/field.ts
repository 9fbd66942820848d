/** Storage kinds of a field; the schema's runtime description, shared with the server as plain data. */
export type FieldType =
  | "string"
  | "number"
  | "boolean"
  | "date"
  | "json"
  | "ref"
  | "refMany"
  | "object"
  | "array"
  /**
   * Server side only, for rules written without a schema: the stored value as it is (a set
   * field's members as a list). Filters treat a list as a set (`equals` means "contains") and
   * anything else as a plain value. Never produced by `t`, never accepted from clients.
   */
  | "any";

/**
 * How a field is read, as plain JSON: what the query engine needs to see a stored value "as
 * read" without the schema's types. Date fallbacks are epoch milliseconds or `"now"`.
 */
export interface FieldSpec {
  readonly type: FieldType;
  readonly optional: boolean;
  /** Stored form of the fallback; absent when the field has none. */
  readonly fallback?: unknown;
  /** Target entity of `ref` / `refMany`. */
  readonly target?: string;
  /** Members of `object` (rooms only). */
  readonly fields?: Readonly<Record<string, FieldSpec>>;
  /** Element type of `array` (rooms only). */
  readonly items?: FieldSpec;
}

declare const phantom: unique symbol;

/**
 * A field definition made by `t`. The type parameters carry, at compile time only, the value
 * type users read and write, whether the field may be omitted on create, and whether it always
 * reads as defined.
 */
export interface FieldDef<TValue = unknown, TOptional extends boolean = boolean, TDefined extends boolean = boolean> {
  readonly spec: FieldSpec;
  readonly [phantom]?: { value: TValue; optional: TOptional; defined: TDefined };
}

/** Any field definition. */
export type AnyFieldDef = FieldDef<any, boolean, boolean>;
