/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The sync server's url, baked in at build time (`npm start` sets it). */
  readonly VITE_TRELLIS_SERVER_URL?: string;
}
