// Server only ($lib/server): the environment is read per request, never baked into the build.
import type { TrellisSettings } from "../settings";

/**
 * The settings from the environment: `TRELLIS_URL` and `TRELLIS_APP_ID`.
 *
 * @example
 * const { serverUrl, appId } = trellisSettings();
 */
export function trellisSettings(): TrellisSettings {
  return {
    serverUrl: process.env.TRELLIS_URL ?? "http://127.0.0.1:8787",
    appId: process.env.TRELLIS_APP_ID ?? "sveltekit-example",
  };
}
