import type { DatabaseResult } from "@trellis/core";
import type { SubscribeCallback, Subscription } from "../types.js";

/** One entry of a key-value map: its key and value. */
export type MapEntry<V> = readonly [key: string, value: V];

/**
 * A replicated key-value map for schemaless data: `client.map<V>(name)`. Keys are strings,
 * values JSON; every key is a last-writer-wins register ordered by HLC, like a document field,
 * so concurrent `set` and `remove` of one key converge to the later of the two on every replica.
 * Reads are local and synchronous; writes apply at once and sync in the background.
 * See docs/maps.md.
 *
 * @example
 * const prefs = client.map<string>("prefs");
 * await prefs.set("theme", "dark");
 * prefs.get("theme"); // "dark"
 * prefs.subscribe((entries) => render(entries)); // [["theme", "dark"]]
 */
export interface KeyValueMap<V = unknown> {
  /** The map's name, as given to `client.map(name)`. */
  readonly name: string;
  /** The value of `key` in the local replica, or undefined when it has none (or was removed). */
  get(key: string): V | undefined;
  /**
   * Sets `key` to `value`. Keys are 1-256 characters; values are JSON (plain objects, arrays,
   * strings, finite numbers, booleans; `null` only inside) of at most 512 KiB. Anything else is
   * a VALIDATION error result.
   */
  set(key: string, value: V): Promise<DatabaseResult<void>>;
  /** Removes `key` (a later `set` brings it back). Removing a missing key succeeds. */
  remove(key: string): Promise<DatabaseResult<void>>;
  /** Every entry of the local replica, in key order (by UTF-16 code unit). */
  entries(): Array<[key: string, value: V]>;
  /**
   * Follows the entries (in key order): `callback` runs at once and again whenever they change.
   * With a server, `loading` is true (and the entries undefined) until the server first answered.
   */
  subscribe(callback: SubscribeCallback<readonly MapEntry<V>[]>): Subscription<readonly MapEntry<V>[]>;
}
