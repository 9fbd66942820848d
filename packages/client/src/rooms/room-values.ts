import { type FieldSpec, validateRoomValue } from "@trellis/core";

/** Marks a received value that does not fit the schema. */
export const UNREADABLE = Symbol("unreadable");

/**
 * Reads a value another member sent (wire form) as the schema's type: epoch ms become Dates;
 * object members and array items that do not fit are dropped; anything else that does not fit
 * is {@link UNREADABLE} (like a stored value of the wrong type).
 */
export function readRoomValue(spec: FieldSpec, value: unknown): unknown {
  switch (spec.type) {
    case "date":
      return typeof value === "number" && Number.isFinite(value) ? new Date(value) : UNREADABLE;
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) return UNREADABLE;
      const read: Record<string, unknown> = {};
      for (const [key, member] of Object.entries(spec.fields ?? {})) {
        const item = readRoomValue(member, (value as Record<string, unknown>)[key]);
        if (item !== UNREADABLE) read[key] = item;
        else if ("fallback" in member) read[key] = readRoomValue(member, member.fallback);
      }
      return read;
    }
    case "array": {
      if (!Array.isArray(value) || spec.items === undefined) return UNREADABLE;
      const items = spec.items;
      return value.map((item) => readRoomValue(items, item)).filter((item) => item !== UNREADABLE);
    }
    default:
      return validateRoomValue(spec, value, "value").error === undefined ? value : UNREADABLE;
  }
}
