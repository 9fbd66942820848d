/**
 * The stored version each collection in memory is known to hold: what its read found, moved on
 * by this client's own commits and by other tabs' (see `StorageCommit.results`). A query result
 * stored at a version is exact only if memory held what storage held then, so results are stored
 * only for collections whose version is known here.
 *
 * @example
 * const versions = new StoredVersions();
 * versions.read("todos", 4);
 * versions.committed(new Map([["todos", 5]]));
 * versions.of("todos"); // 5
 */
export class StoredVersions {
  /** By collection in memory; null once another tab's commit came in between, unseen here. */
  private readonly versions = new Map<string, number | null>();

  /** A collection was read whole from storage at `version` (null: the read failed). */
  read(collection: string, version: number | null): void {
    this.versions.set(collection, version);
  }

  /** A collection left memory: what storage holds of it is no longer known here. */
  dropped(collection: string): void {
    this.versions.delete(collection);
  }

  /** The stored version memory is known to hold for a collection, or undefined. */
  of(collection: string): number | undefined {
    return this.versions.get(collection) ?? undefined;
  }

  /** A commit of this client moved these collections to these versions. */
  committed(versions: ReadonlyMap<string, number>): void {
    for (const [collection, version] of versions) {
      const known = this.versions.get(collection);
      if (known === undefined) continue;
      // Anything but the next version means another tab committed in between, unseen here.
      this.versions.set(collection, known !== null && version === known + 1 ? version : null);
    }
  }

  /**
   * Another tab's commit moved these collections to these versions. Its changes reached this
   * tab before (the channel keeps a tab's messages in order), so a tab that knew the version
   * just before knows this one.
   */
  storedElsewhere(versions: Iterable<readonly [collection: string, version: number]>): void {
    for (const [collection, version] of versions) {
      if (this.versions.get(collection) === version - 1) this.versions.set(collection, version);
    }
  }
}
