/**
 * The schema every sync phase uses, and the raw-protocol pieces built from it: normalized
 * queries (what a Trellis client sends in `subscribe`) and triples with valid HLCs.
 */
import {
  createSchema,
  encodeHlc,
  type FieldDef,
  type NormalizedQuery,
  normalizeQuery,
  type Schema,
  TICKS_PER_MS,
  t,
  type Triple,
} from "@trellis/core";

/** A required field with a fallback. */
type Field<T> = FieldDef<T, false, true>;

/**
 * The schema's entities, spelled out: the repository's typecheck emits declarations, and those
 * cannot name the field types `t` infers.
 */
type SyncEntities = {
  readonly items: { readonly n: Field<number>; readonly title: Field<string> };
  readonly loads: { readonly title: Field<string>; readonly tag: Field<string>; readonly priority: Field<number> };
  readonly fans: { readonly n: Field<number> };
  readonly tasks: { readonly n: Field<number>; readonly title: Field<string>; readonly priority: Field<number> };
};

/** The room type of the rooms phases (spelled out for the same reason). */
type SyncRooms = {
  readonly board: {
    /** Fan-out: the event's sequence number. */
    readonly events: { readonly ping: Field<{ k: number }> };
    /** Cursors: a position and its sequence number (per member). */
    readonly userStatus: { readonly cursor: Field<{ x: number; y: number; k: number }> };
  };
};

export const syncSchema: Schema<SyncEntities, SyncRooms> = createSchema({
  entities: {
    /** Latency and throughput: a write sets `n` to its sequence number. */
    items: { n: t.number({ fallback: -1 }), title: t.string({ fallback: "" }) },
    /** Ingest and initial load. */
    loads: { title: t.string({ fallback: "" }), tag: t.string({ fallback: "" }), priority: t.number({ fallback: 0 }) },
    /** Fan-out over raw sockets. */
    fans: { n: t.number({ fallback: -1 }) },
    /** Permission rules through relations: tasks readable by their project's members. */
    tasks: { n: t.number({ fallback: -1 }), title: t.string({ fallback: "" }), priority: t.number({ fallback: 0 }) },
  },
  rooms: {
    board: {
      events: { ping: t.object({ k: t.number({ fallback: 0 }) }) },
      userStatus: {
        cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }), k: t.number({ fallback: 0 }) }),
      },
    },
  },
});

/** The normalized form of `collection.subscribe({})`: every document of the collection. */
export function everyDocument(collection: keyof typeof syncSchema.collections): NormalizedQuery {
  const query = normalizeQuery(syncSchema.collections[collection]!, {}, syncSchema.collections);
  if (query.error) throw query.error;
  return query.data;
}

/**
 * Encoded HLCs of one writer, strictly increasing and close to the wall clock (the server refuses
 * readings far ahead of its own clock).
 */
export function createHlcSource(node: string): () => string {
  let last = 0;
  return () => {
    last = Math.max(last + 1, Date.now() * TICKS_PER_MS);
    return encodeHlc({ ticks: last, node });
  };
}

/** One triple of a document. */
export function triple(collection: string, id: string, field: string, value: unknown, hlc: string): Triple {
  return { collection, id, field, value, hlc };
}

/** The one room the rooms phases use (each phase in its own app). */
export const BENCH_ROOM = { roomType: "board", roomId: "r" } as const;
