import type { LiveQuery, RowTest } from "@trellis/core";
import type { RuleUser } from "./permissions/permissions.js";
import type { Peer } from "./peer.js";

/** What the hub remembers of one connection: its live queries and the documents it holds. */
export interface PeerState {
  readonly peer: Peer;
  /** Whom the connection is for, as permission rules see it. */
  readonly user: RuleUser;
  /** Its read rule per collection, compiled on first use. */
  readonly readTests: Map<string, boolean | RowTest>;
  /**
   * Documents sent to this peer in full (`collection\0id`); their later changes follow them until
   * an unsubscribe leaves no query of the peer showing them.
   */
  readonly known: Set<string>;
  readonly queries: Map<string, QueryGroup>;
  /** The client it syncs (its hello's client id) and since when, for the admin API. */
  readonly about: PeerAbout | undefined;
}

/** What the admin API shows of a connection besides its user. */
export interface PeerAbout {
  readonly clientId: string;
  /** When it was attached, in epoch ms. */
  readonly since: number;
}

/** Every subscription of one (normalized) query, across connections: one live view for all. */
export interface QueryGroup {
  readonly key: string;
  /** Replaced, with `stop`, when the views are rebuilt after a failed commit. */
  live: LiveQuery;
  readonly subscribers: Map<PeerState, Set<string>>;
  stop: () => void;
  /**
   * The documents (`collection\0id`) the result showed when it was last routed. Every subscriber
   * holds each of them it may read (a subscriber learns the readable part of the result with its
   * snapshot, and documents entering it later are sent), so a change of the result only needs
   * its entering documents checked, and a change of readability the changed documents.
   */
  shown: Set<string>;
  /** Its query filters through relations: what they reach is sent too, each checked for the user. */
  readonly hasFilters: boolean;
  /**
   * Shared by subscribers whose read rules differ (see `groupQuery`): each gets only the
   * documents it may read, decided per document as they are sent.
   */
  readonly isFiltered: boolean;
}

/** The connections holding each document (`collection\0id`): the ones its changes are sent to. */
export type Holders = Map<string, Set<PeerState>>;

/** The key of a document in `known`, `shown` and `Holders`. *
 * @example
 * ```ts
 * const key = docKey("todos", "t1");
 * ```
 */
export const docKey = (collection: string, id: string): string => `${collection}\u0000${id}`;

/** Rules see an unauthenticated connection as a user without id or claims. */
export const ANONYMOUS: RuleUser = { id: null, claims: {} };

/** The connection holds the document from now on: its changes follow it. */
export function learn(holders: Holders, state: PeerState, key: string): void {
  if (state.known.has(key)) return;
  state.known.add(key);
  let holding = holders.get(key);
  if (holding === undefined) holders.set(key, (holding = new Set()));
  holding.add(state);
}

/** The connection no longer holds the document: its changes stop following it. */
export function unlearn(holders: Holders, state: PeerState, key: string): void {
  state.known.delete(key);
  const holding = holders.get(key);
  holding?.delete(state);
  if (holding?.size === 0) holders.delete(key);
}
