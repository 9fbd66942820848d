// Stand-ins that the `@example` blocks of internal parts may use without declaring them: the
// parts they are wired to. scripts/check-docs.mjs imports the ones an example uses.
import type { Clock, LiveQueryRegistry, LocalWriter, NormalizedQuery, Triple, TripleStore } from "@trellis/core";

export * from "./prelude.js";

export declare const store: TripleStore;
export declare const clock: Clock;
export declare const registry: LiveQueryRegistry;
export declare const writer: LocalWriter;
/** A query as the engine holds it, after `normalizeQuery`. */
export declare const normalized: NormalizedQuery;
export declare const triples: readonly Triple[];
export declare const appId: string;
export declare const clientId: string;
export declare const userId: string;
export declare const tabId: string;
export declare const serverUrl: string;
