export { AppDatabase, type ApplyBatchesResult, type ApplyResult, type ChangeBatch } from "./app-database.js";
export type { AuthOptions } from "./auth.js";
export type { FaultHook, FaultPoint } from "./faults.js";
export type { ServerLimits } from "./limits.js";
export { createLog, type Log, type LogFormat, type LogLevel, type LogOptions, type LogStream } from "./log.js";
export { parseRules, type Rules, RulesError } from "./permissions/rules.js";
export { createServer, type ServerOptions, type TrellisServer } from "./server.js";
export {
  type AdminClient,
  type AdminClientOptions,
  type AdminCollection,
  type AdminDatabase,
  createAdminClient,
} from "./admin-client/admin-client.js";
