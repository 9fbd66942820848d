// Stand-ins that the `@example` blocks of internal parts may use without declaring them: the
// parts they are wired to. scripts/check-docs.mjs imports the ones an example uses.
import type { IncomingMessage } from "node:http";
import type {
  Clock,
  LiveQueryRegistry,
  LocalWriter,
  NormalizedAggregateQuery,
  NormalizedQuery,
  sortedMatches,
  SourceTable,
  Triple,
  TripleStore,
} from "@trellis/core";
import type { schema } from "./prelude.js";
// The server's internal parts are not exported: these paths are those of the copies of this file
// that scripts/check-docs.mjs writes into packages/*/.docs-check.
import type { AppRegistry } from "../../server/src/apps/app-registry.js";
import type { BodyBudget } from "../../server/src/body-budget.js";

export * from "./prelude.js";

export declare const store: TripleStore;
export declare const clock: Clock;
export declare const registry: LiveQueryRegistry;
export declare const writer: LocalWriter;
/** A query as the engine holds it, after `normalizeQuery`. */
export declare const normalized: NormalizedQuery;
/** An aggregate query as the engine holds it, after `normalizeAggregateQuery`. */
export declare const normalizedAggregate: NormalizedAggregateQuery;
/** A sorted entry of a match set: a row with its sort keys. */
type Keyed = ReturnType<typeof sortedMatches>[number];
/** The order of `normalized` as the engine compiles it (`compileOrder`). */
export declare const ordering: { keyOf(table: SourceTable, row: number): Keyed; compare(a: Keyed, b: Keyed): number };
/** The guides' `posts` entity, for the examples of the query types. */
export type Posts = typeof schema.entities.posts;
export declare const triples: readonly Triple[];
export declare const appId: string;
export declare const clientId: string;
export declare const userId: string;
export declare const tabId: string;
export declare const serverUrl: string;
/** An HTTP request (or WebSocket upgrade) the server is answering. */
export declare const request: IncomingMessage;

// The server's own parts, for the examples of its internals.
/** The server's budget of request bodies in flight. */
export declare const bodies: BodyBudget;
/** The server's registry of apps (their auth settings, service keys). */
export declare const apps: AppRegistry;
