import { TICKS_PER_MS } from "../hlc.js";
import type { FieldSpec } from "../schema/field.js";
import { readStored } from "../schema/read.js";
import { CREATED_AT_FIELD } from "../triples.js";
import type { SourceTable } from "./source.js";

/** Reads one field of a row as the query engine sees it: after type checks and fallbacks. */
export type FieldReader = (table: SourceTable, row: number) => unknown;

function createdAtOf(table: SourceTable, row: number): number | undefined {
  const stored = table.get(row, CREATED_AT_FIELD);
  return typeof stored === "number" && Number.isFinite(stored) ? stored : undefined;
}

/**
 * The reader of a field, auto fields included. Values come in comparable form: dates as epoch
 * milliseconds, sets as sorted arrays.
 */
export function fieldReader(field: string, spec: FieldSpec): FieldReader {
  switch (field) {
    case "id":
      return (table, row) => table.idOf(row);
    case "updatedAt":
      return (table, row) => Math.floor(table.updatedTicksOf(row) / TICKS_PER_MS);
    case "createdAt":
      return createdAtOf;
    case "createdBy":
      return (table, row) => {
        const stored = table.get(row, field);
        return typeof stored === "string" ? stored : undefined;
      };
  }
  if (spec.type === "date" && spec.fallback === "now") {
    return (table, row) => readStored(spec, table.get(row, field), createdAtOf(table, row));
  }
  return (table, row) => readStored(spec, table.get(row, field), undefined);
}

/** Whether the value a field reads as can depend on other stored fields than its own. */
export function readDependsOnCreatedAt(spec: FieldSpec): boolean {
  return spec.type === "date" && spec.fallback === "now";
}
