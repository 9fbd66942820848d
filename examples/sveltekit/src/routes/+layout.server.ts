// Read on the server at request time, so one build serves any sync server.
import { trellisSettings } from "../lib/server/settings";

export const load = ({ url }: { readonly url: URL }) => ({
  settings: trellisSettings(),
  user: url.searchParams.get("user") ?? "guest",
});
