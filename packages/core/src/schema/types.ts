import type { AnyFieldDef, FieldDef, FieldSpec } from "./field.js";
import type { FieldValue } from "./t.js";

/** The fields of one entity (collection). */
export type EntityDef = Record<string, AnyFieldDef>;
/** Every entity of a schema, by collection name. */
export type EntitiesDef = Record<string, EntityDef>;

/** A room type: its events, per-user status and room-wide status. */
export interface RoomDef {
  readonly events?: Record<string, AnyFieldDef>;
  readonly userStatus?: Record<string, AnyFieldDef>;
  readonly roomStatus?: Record<string, AnyFieldDef>;
}
/** Every room type of a schema, by name. */
export type RoomsDef = Record<string, RoomDef>;

/** Read-only fields every document has; returned only when asked for in `fields`. */
export interface AutoFields {
  readonly id: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** The user id of the client that created the document (undefined for an anonymous local client). */
  readonly createdBy: string | undefined;
}

/** Names a user field may not take. */
export type AutoFieldName = keyof AutoFields;

/** The type a field reads as: defined when it has a fallback (or is a refMany), else possibly undefined. */
export type ReadValue<F> = F extends FieldDef<infer V, boolean, infer D> ? (D extends true ? V : V | undefined) : never;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type WriteOptionalKeys<E> = {
  [K in keyof E]: E[K] extends FieldDef<any, infer O, boolean> ? (O extends true ? K : never) : never;
}[keyof E];
type WriteRequiredKeys<E> = Exclude<keyof E, WriteOptionalKeys<E>>;

/** A whole document as read: every schema field (fallbacks applied) and the auto fields. */
export type Doc<E extends EntityDef> = Simplify<{ -readonly [K in keyof E]: ReadValue<E[K]> } & AutoFields>;

/** Every required field; optional fields may be left out (what `replace` takes). */
type WholeInput<E extends EntityDef> = { [K in WriteRequiredKeys<E>]: FieldValue<E[K]> } & {
  [K in WriteOptionalKeys<E>]?: FieldValue<E[K]> | undefined;
};

/**
 * What `create` and `createMany` take: every required field, optional fields may be left out,
 * and optionally the new document's `id` (1-64 characters of `[A-Za-z0-9_-]`, not in use yet;
 * generated when left out).
 */
export type CreateInput<E extends EntityDef> = Simplify<WholeInput<E> & { id?: string | undefined }>;

/** What `update` takes: any subset of fields; optional fields may be set to `undefined` to remove them. */
export type UpdateInput<E extends EntityDef> = Simplify<
  { [K in WriteRequiredKeys<E>]?: FieldValue<E[K]> } & { [K in WriteOptionalKeys<E>]?: FieldValue<E[K]> | undefined }
>;

/** What `replace` takes: like create, every required field (but no id); fields left out are removed. */
export type ReplaceInput<E extends EntityDef> = Simplify<WholeInput<E>>;

/** Runtime description of one collection, plain JSON. */
export interface CollectionSpec {
  readonly name: string;
  readonly fields: Readonly<Record<string, FieldSpec>>;
}

/** Runtime description of one room type, plain JSON. */
export interface RoomSpec {
  readonly name: string;
  readonly events: Readonly<Record<string, FieldSpec>>;
  readonly userStatus: Readonly<Record<string, FieldSpec>>;
  readonly roomStatus: Readonly<Record<string, FieldSpec>>;
}

/**
 * A schema made by `createSchema`: the definitions (for type inference) and their runtime specs.
 */
export interface Schema<TEntities extends EntitiesDef = EntitiesDef, TRooms extends RoomsDef = RoomsDef> {
  readonly entities: TEntities;
  readonly rooms: TRooms;
  readonly collections: Readonly<Record<string, CollectionSpec>>;
  readonly roomSpecs: Readonly<Record<string, RoomSpec>>;
}

/** The entity definitions of a schema. */
export type EntitiesOf<S> = S extends Schema<infer E, RoomsDef> ? E : never;
