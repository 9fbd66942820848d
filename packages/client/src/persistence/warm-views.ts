import type { LiveQueryRegistry, LiveView } from "@trellis/core";

/**
 * Live views kept maintained a while after their last subscriber left, so that subscribing to
 * the same query again (a screen the user returns to) answers from memory: over a partial
 * collection, a new live query would read the whole collection from storage first. The oldest
 * beyond `max` is released; the working set releases them oldest first when what they hold does
 * not fit the memory bound.
 *
 * @example
 * const warm = new WarmViews(registry, 8);
 * const view = registry.acquire(normalized);
 * warm.keep(view); // instead of registry.release(view): the screen answers from memory if it comes back
 */
export class WarmViews {
  /** Oldest first. */
  private readonly views: LiveView[] = [];

  constructor(
    private readonly registry: LiveQueryRegistry,
    private readonly max: number,
  ) {}

  /** Keeps a view whose subscriber left, in place of releasing it. */
  keep(view: LiveView): void {
    this.forget(view);
    this.views.push(view);
    while (this.views.length > this.max) this.releaseOldest();
  }

  /** A subscriber holds the view again: its kept reference goes. */
  reused(view: LiveView): void {
    if (this.forget(view)) this.registry.release(view);
  }

  /** Releases the oldest kept view; false when none is kept. */
  releaseOldest(): boolean {
    const view = this.views.shift();
    if (view === undefined) return false;
    this.registry.release(view);
    return true;
  }

  private forget(view: LiveView): boolean {
    const index = this.views.indexOf(view);
    if (index < 0) return false;
    this.views.splice(index, 1);
    return true;
  }
}
