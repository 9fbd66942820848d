import type { FieldSpec } from "./field.js";

/**
 * The value a stored field reads as, in comparable form (dates as epoch milliseconds):
 * a value of the wrong type reads as missing, and a missing value reads as the fallback.
 * This is the one place the read rules of schema evolution (docs/schema.md) live; filters,
 * ordering and materialisation all go through it.
 *
 * `createdAtMs` serves `t.date({ fallback: "now" })`, which reads as the document's creation time.
 */
export function readStored(spec: FieldSpec, stored: unknown, createdAtMs: number | undefined): unknown {
  if (hasStoredType(spec, stored)) return stored;
  if (spec.type === "refMany") return EMPTY_SET;
  if (spec.fallback === "now" && spec.type === "date") return createdAtMs;
  return spec.fallback;
}

const EMPTY_SET: readonly string[] = Object.freeze([]);

/** Whether a stored value has the field's storage type. */
export function hasStoredType(spec: FieldSpec, stored: unknown): boolean {
  switch (spec.type) {
    case "string":
    case "ref":
      return typeof stored === "string";
    case "number":
    case "date":
      return typeof stored === "number" && Number.isFinite(stored);
    case "boolean":
      return typeof stored === "boolean";
    case "refMany":
      return Array.isArray(stored) && stored.length > 0;
    case "json":
    case "object":
    case "array":
    case "any":
      return stored !== undefined && stored !== null;
  }
}

/** Turns a comparable value into what users see: Dates for dates, copies of JSON values. */
export function toUserValue(spec: FieldSpec, comparable: unknown): unknown {
  if (comparable === undefined) return undefined;
  if (spec.type === "date") return new Date(comparable as number);
  if (spec.type === "refMany") return (comparable as string[]).slice();
  if (spec.type === "json" && typeof comparable === "object") return structuredClone(comparable);
  return comparable;
}
