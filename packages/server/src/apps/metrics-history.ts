/** One reading of an app's load. */
export interface MetricsSample {
  /** Epoch ms. */
  readonly at: number;
  readonly connections: number;
  readonly writesPerSecond: number;
}

/** Samples kept per app: ten minutes at one every five seconds. */
const CAPACITY = 120;

/**
 * The recent load of each app, sampled by the server and kept in memory (the dashboard's chart).
 * A closed app's samples are zeros; once all it has are zeros, it is forgotten.
 */
export class MetricsHistory {
  private readonly samples = new Map<string, MetricsSample[]>();

  /** Adds a reading of an open app. */
  record(appId: string, sample: MetricsSample): void {
    let samples = this.samples.get(appId);
    if (samples === undefined) this.samples.set(appId, (samples = []));
    samples.push(sample);
    if (samples.length > CAPACITY) samples.shift();
  }

  /** Adds a zero reading for every app with samples that is not in `open`. */
  recordClosed(open: ReadonlySet<string>, at: number): void {
    for (const [appId, samples] of this.samples) {
      if (open.has(appId)) continue;
      if (samples.every((sample) => sample.connections === 0 && sample.writesPerSecond === 0))
        this.samples.delete(appId);
      else this.record(appId, { at, connections: 0, writesPerSecond: 0 });
    }
  }

  /** An app's samples, oldest first. */
  of(appId: string): readonly MetricsSample[] {
    return this.samples.get(appId) ?? [];
  }

  forget(appId: string): void {
    this.samples.delete(appId);
  }
}
