import type { Schema } from "@trellis/client";
import { type CollectionApi, isPreloadData, type PreloadData, type TrellisClient } from "@trellis/client";
import { getTrellisClient } from "./trellis-context.js";

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
 * where the client defaults to the one of {@link setTrellisClient}.
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
  const client = (second as TrellisClient<Schema> | undefined) ?? getTrellisClient();
  return {
    input,
    collection: () => {
      const preloaded = input();
      if (!isPreloadData(preloaded)) throw new TypeError(`${name}: the getter must return preloaded data (from preload()).`);
      return collectionOf(client, preloaded, name);
    },
  };
}

function isCollection(value: unknown): value is AnyCollection {
  return typeof value === "object" && value !== null && !isPreloadData(value) && typeof (value as AnyCollection).subscribe === "function";
}

function collectionOf(client: TrellisClient<Schema>, preloaded: PreloadData<unknown>, name: string): AnyCollection {
  const collection = (client.database as unknown as Record<string, AnyCollection | undefined>)[preloaded.collection];
  if (collection === undefined || preloaded.collection === "batch") {
    throw new TypeError(`${name}: the client's schema has no collection "${preloaded.collection}" for this preloaded data.`);
  }
  return collection;
}
