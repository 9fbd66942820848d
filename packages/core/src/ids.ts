/**
 * App, client (HLC node), query and batch ids: 1-64 characters of `[A-Za-z0-9_-]`, safe in file
 * names, URLs and HLC strings. One pattern for every package, so a client never makes an id the
 * server refuses.
 */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** {@link ID_PATTERN} in words, for error messages. */
export const ID_RULE = "1-64 characters of [A-Za-z0-9_-]";

/**
 * Whether `value` is a well-formed id.
 *
 * @example
 * if (!isId(appId)) throw new TypeError(`appId must be ${ID_RULE}.`);
 */
export function isId(value: unknown): value is string {
  return typeof value === "string" && ID_PATTERN.test(value);
}
