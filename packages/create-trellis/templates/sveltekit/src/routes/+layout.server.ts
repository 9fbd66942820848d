import { trellisSettings } from "$lib/server/settings";
import type { LayoutServerLoad } from "./$types";

export const load: LayoutServerLoad = () => ({ trellis: trellisSettings() });
