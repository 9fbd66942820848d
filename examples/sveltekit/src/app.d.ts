// SvelteKit's app-wide types (https://svelte.dev/docs/kit/types#app.d.ts); this example adds none.
declare global {
  namespace App {}
}

export {};
