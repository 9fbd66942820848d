import fc from "fast-check";
import { expect } from "vitest";

/**
 * Seeds of the law tests (property and oracle tests): fixed so runs are reproducible,
 * overridable with `SEED=<integer>` to explore, and printed whenever a law fails.
 * Test support only; not exported from the package.
 */
export const DEFAULT_LAW_SEED = 20_250_611;

/**
 * The seed for this run: `SEED` from the environment, or {@link DEFAULT_LAW_SEED}.
 * @example const seed = lawSeed(); // SEED=42 npx vitest run packages/core/src/hlc.test.ts
 */
export function lawSeed(): number {
  const raw = process.env.SEED;
  if (raw === undefined || raw.trim() === "") return DEFAULT_LAW_SEED;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new TypeError(`SEED must be an integer, got ${JSON.stringify(raw)}.`);
  // fast-check seeds are 32-bit integers.
  return seed | 0;
}

/** How to reproduce a failure, for failure messages. @example `${reproduce(seed)}` */
export function reproduce(seed: number): string {
  const file = expect.getState().testPath ?? "<test file>";
  return `law test failed with SEED=${seed}; rerun with: SEED=${seed} npx vitest run ${file}`;
}

/**
 * `fc.assert` with the run's seed; a failure is rethrown with the seed up front (fast-check's
 * own report with the counterexample and shrink path follows).
 *
 * @example
 * import fc from "fast-check";
 * checkLaw(fc.property(fc.nat(), (n) => n >= 0), { numRuns: 200 });
 */
export function checkLaw<Ts>(property: fc.IProperty<Ts>, parameters: fc.Parameters<Ts> = {}): void {
  const seed = lawSeed();
  try {
    fc.assert(property, { ...parameters, seed });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${reproduce(seed)}\n${message}`, { cause: error });
  }
}
