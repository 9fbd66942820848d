import { CREATED_BY_FIELD, type DatabaseResult, fail, ok, type Triple } from "@trellis/core";

/**
 * A push may name only its own user as a document's author: every `createdBy` it writes must be
 * the pushing connection's user id (its token's `sub`, or in development mode the user id it
 * claims), and an anonymous connection writes none. Otherwise one user could make documents
 * look created by another. The whole batch is refused: nothing of it is stored.
 *
 * @example
 * const checked = checkAuthorship(triples, userId); // the pushed triples, the pushing connection's user
 * if (checked.error) return checked; // VALIDATION: nothing of the push is stored
 */
export function checkAuthorship(triples: readonly Triple[], userId: string | null | undefined): DatabaseResult<void> {
  for (const triple of triples) {
    if (
      triple.field !== CREATED_BY_FIELD ||
      triple.element !== undefined ||
      (userId != null && triple.value === userId)
    )
      continue;
    const pusher = userId == null ? "an anonymous connection" : `user ${JSON.stringify(userId)}`;
    return fail(
      "VALIDATION",
      `A write may name only its own user as createdBy: ${pusher} wrote ${describeAuthor(triple.value)}; nothing of the batch was stored.`,
      {
        collection: triple.collection,
        id: triple.id,
        field: CREATED_BY_FIELD,
      },
    );
  }
  return ok(undefined);
}

/** A short, bounded description of a pushed value for the error message (it may be any JSON). */
function describeAuthor(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (value === null || typeof value !== "object") return String(value);
  return Array.isArray(value) ? "an array" : "an object";
}
