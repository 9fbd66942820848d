export { removeDataDir, type ServerProcess, type ServerProcessOptions, startServerProcess, tempDataDir } from "./server-process.js";
export { createRandom, type Random, stormFrames } from "./storm.js";
