// Tests expect a client's socket and storage session as soon as createClient returns, as they
// are for every client after a page's first; a first client, whose sync and persistence code is
// still on its way, has tests of its own (deferred-sync.test.ts, deferred-persistence.test.ts).
import { loadPersistenceCode } from "../client-persistence.js";
import { loadSyncCode } from "../client-sync.js";

await Promise.all([loadSyncCode(), loadPersistenceCode()]);
