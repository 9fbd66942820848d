// Tests expect a client's socket as soon as createClient returns, as it is for every client
// after a page's first; a first client, whose sync code is still on its way, has tests of its
// own (deferred-sync.test.ts).
import { loadSyncCode } from "../client-sync.js";

await loadSyncCode();
