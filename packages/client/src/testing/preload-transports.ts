import * as devalue from "devalue";

/**
 * The ways frameworks carry preloaded data from server to browser, for tests: each takes a
 * value and gives what the browser gets.
 *
 * @example
 * for (const [name, carry] of PRELOAD_TRANSPORTS) console.log(name, carry({ n: 1 })); // each keeps { n: 1 }
 */
export const PRELOAD_TRANSPORTS: Array<[string, <T>(value: T) => T]> = [
  ["JSON.stringify / JSON.parse", (value) => JSON.parse(JSON.stringify(value))],
  ["structuredClone", (value) => structuredClone(value)],
  ["devalue.stringify / devalue.parse (SvelteKit data)", (value) => devalue.parse(devalue.stringify(value))],
  ["devalue.uneval (SvelteKit SSR)", (value) => (0, eval)(`(${devalue.uneval(value)})`)],
];
