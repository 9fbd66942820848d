/** Small statistics and measurement helpers shared by every peer. */

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** The p-th percentile (nearest rank) of the values; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

const maybeGc = (globalThis as { gc?: () => void }).gc;

/**
 * Collects garbage until the heap stops shrinking (needs `node --expose-gc`). Awaits between
 * rounds so promise continuations and finalizers that hold memory can run.
 */
export async function settleHeap(): Promise<void> {
  if (maybeGc === undefined) return;
  let previous = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 8; round++) {
    maybeGc();
    await new Promise((resolve) => setImmediate(resolve));
    const used = process.memoryUsage().heapUsed;
    if (used >= previous - 1024) break;
    previous = used;
  }
}

/** Times an async body once, in milliseconds. */
export async function timeMs(body: () => unknown): Promise<number> {
  const start = performance.now();
  await body();
  return performance.now() - start;
}

/** Heap and ArrayBuffer bytes in use (ArrayBuffer memory lives outside heapUsed). */
export function memorySnapshot(): { heapUsed: number; arrayBuffers: number } {
  const usage = process.memoryUsage();
  return { heapUsed: usage.heapUsed, arrayBuffers: usage.arrayBuffers };
}
