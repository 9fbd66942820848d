// Server only ($lib/server): the environment is read per request, so one build serves any sync server.
import { env } from "$env/dynamic/private";
import type { TrellisSettings } from "$lib/trellis";

/**
 * The sync server (`TRELLIS_URL`, else `npm run server`'s address) and the app id (`TRELLIS_APP_ID`).
 *
 * @example
 * const { serverUrl, appId } = trellisSettings();
 */
export function trellisSettings(): TrellisSettings {
  return { serverUrl: env.TRELLIS_URL ?? "http://127.0.0.1:8787", appId: env.TRELLIS_APP_ID ?? "{{name}}" };
}
