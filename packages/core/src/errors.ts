/**
 * Every code an expected failure can carry.
 * - `VALIDATION`: the input does not fit the schema or the API (the message names the field).
 * - `NOT_FOUND`: no document has that id (or it was deleted).
 * - `UNAUTHORIZED`: the server refused the caller.
 * - `STORAGE`: persistence failed (quota, a blocked database).
 * - `NETWORK`: the operation needs the server and there is no connection.
 * - `CLOCK_DRIFT`: a remote clock is too far ahead of this one to be trusted.
 * - `PROTOCOL`: a peer sent a message that does not follow the sync protocol.
 * - `INTERNAL`: a bug in Trellis; please report it.
 */
export type DatabaseErrorCode =
  "VALIDATION" | "NOT_FOUND" | "UNAUTHORIZED" | "STORAGE" | "NETWORK" | "CLOCK_DRIFT" | "PROTOCOL" | "INTERNAL";

/**
 * The error half of a {@link DatabaseResult}. Plain data plus a stack: `toJSON()` gives the
 * `{ code, message, details }` that crosses the wire.
 *
 * @example
 * const { error } = await client.database.users.update({ id: "nope", fields: {} });
 * if (error?.code === "NOT_FOUND") console.log(error.message);
 */
export class DatabaseError extends Error {
  override readonly name = "DatabaseError";
  readonly code: DatabaseErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: DatabaseErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: DatabaseErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: { ...this.details } };
  }
}

/**
 * What every Trellis operation returns: data or an error, never both, never a throw for an
 * expected failure.
 *
 * @example
 * const { data, error } = await client.database.users.create({ name: "Ada", isAdult: true });
 * if (error) return console.error(error.code, error.message);
 * console.log(data.id);
 */
export type DatabaseResult<T> =
  { readonly data: T; readonly error: undefined } | { readonly data: undefined; readonly error: DatabaseError };

/** A successful {@link DatabaseResult}. @example return ok(doc); */
export function ok<T>(data: T): { readonly data: T; readonly error: undefined } {
  return { data, error: undefined };
}

/** A failed {@link DatabaseResult}. @example return fail("NOT_FOUND", `No user with id "${id}".`); */
export function fail(
  code: DatabaseErrorCode,
  message: string,
  details?: Record<string, unknown>,
): { readonly data: undefined; readonly error: DatabaseError } {
  return { data: undefined, error: new DatabaseError(code, message, details) };
}
