/**
 * One fact: entity `id` of `collection` has `value` in `field`, as of clock reading `hlc`
 * (an encoded HLC). The attribute is `collection/field`, kept as two strings.
 *
 * - A plain field is a last-writer-wins register; `value: null` means "removed".
 * - A `t.refMany` field is a set: one triple per element, with `element` set and `value`
 *   `true` (member) or `false` (removed), each element its own register, so concurrent
 *   additions of different elements all survive.
 * - `field: DELETED_FIELD` with `value: true` is a tombstone: the entity is deleted for good.
 *
 * Triples are plain JSON: they are what the outbox stores and the sync protocol carries.
 */
export interface Triple {
  readonly collection: string;
  readonly id: string;
  readonly field: string;
  readonly value: unknown;
  readonly hlc: string;
  readonly element?: string;
}

/** Names one document: what the server sends for a document its user may no longer read. */
export interface DocumentRef {
  readonly collection: string;
  readonly id: string;
}

/** The field of a tombstone triple. */
export const DELETED_FIELD = "$deleted";
/** Stored auto field: creation time in epoch ms. */
export const CREATED_AT_FIELD = "createdAt";
/** Stored auto field: the creating user's id. */
export const CREATED_BY_FIELD = "createdBy";
