export { AppDatabase, type ApplyResult, type ChangeBatch } from "./app-database.js";
