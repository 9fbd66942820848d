/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The sync server's URL, read at build time (e.g. `VITE_TRELLIS_URL=https://sync.example.com npm run build`). */
  readonly VITE_TRELLIS_URL?: string;
}
