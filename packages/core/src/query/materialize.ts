import { toUserValue } from "../schema/read.js";
import type { NormalizedQuery } from "./query.js";
import { type FieldReader, fieldReader } from "./read-field.js";
import type { SourceTable } from "./source.js";

/** Builds result documents of a query: the selected fields in the form users see. */
export type Materializer = (table: SourceTable, row: number) => Record<string, unknown>;

/** Compiles the selection of a query into a row-to-document function. */
export function compileMaterializer(query: NormalizedQuery): Materializer {
  const fields: Array<{ name: string; read: FieldReader; spec: (typeof query.specs)[string] }> = query.select.map((name) => ({
    name,
    read: fieldReader(name, query.specs[name]!),
    spec: query.specs[name]!,
  }));
  return (table, row) => {
    const doc: Record<string, unknown> = {};
    for (const { name, read, spec } of fields) doc[name] = toUserValue(spec, read(table, row));
    return doc;
  };
}
