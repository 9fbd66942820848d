import type { Schema } from "@trellis/client";
import {
  type CollectionApi,
  collectionOfPreloaded,
  isPreloadData,
  type PreloadData,
  type TrellisClient,
} from "@trellis/client";
import { findTrellisClient } from "./trellis-context.js";

/** A value, or a function reading it from reactive state (re-read when that state changes). */
export type MaybeGetter<T> = T | (() => T);

/** Loosely typed: bindings check their arguments' types in their own signatures. */
export type AnyCollection = CollectionApi<any, any>;

/** Where a binding's data comes from: a collection and what to ask it, read afresh on each call. */
export interface ResolvedInput {
  readonly collection: () => AnyCollection;
  readonly input: () => unknown;
}

/**
 * Reads a binding's arguments: `(collection, queryOrGetter)`, or `(preloaded | getter, client?)`
 * where the client defaults to the one of {@link setTrellisClient}, else the open client of the
 * app the preloaded data names.
 *
 * @example
 * const { collection, input } = resolveInput("query", [client.database.todos, { where: { done: false } }]);
 */
export function resolveInput(name: string, args: readonly unknown[]): ResolvedInput {
  const [first, second] = args;
  if (isCollection(first)) {
    const input = second;
    return { collection: () => first, input: typeof input === "function" ? (input as () => unknown) : () => input };
  }
  if (!(isPreloadData(first) || typeof first === "function")) {
    throw new TypeError(`${name}: pass a collection (client.database.todos) and a query, or preloaded data.`);
  }
  const input = typeof first === "function" ? (first as () => unknown) : () => first;
  const client = (second as TrellisClient<Schema> | undefined) ?? contextClient();
  return {
    input,
    collection: () => {
      const preloaded = input();
      if (!isPreloadData(preloaded))
        throw new TypeError(`${name}: the getter must return preloaded data (from preload()).`);
      return collectionOf(client, preloaded, name);
    },
  };
}

/** The client of `setTrellisClient`; undefined without one, or outside component initialisation. */
function contextClient(): TrellisClient<Schema> | undefined {
  try {
    return findTrellisClient();
  } catch {
    return undefined;
  }
}

function isCollection(value: unknown): value is AnyCollection {
  return (
    typeof value === "object" &&
    value !== null &&
    !isPreloadData(value) &&
    typeof (value as AnyCollection).subscribe === "function"
  );
}

function collectionOf(
  provided: TrellisClient<Schema> | undefined,
  preloaded: PreloadData<unknown>,
  name: string,
): AnyCollection {
  // Without a client given or set: the client created for the app the data names (docs/svelte.md).
  return collectionOfPreloaded(
    provided,
    preloaded,
    name,
    "call setTrellisClient(client) in a parent component, or pass the client",
  ) as AnyCollection;
}
