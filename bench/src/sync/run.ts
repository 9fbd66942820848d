/**
 * The sync benchmark: a real `trellis-server` process on 127.0.0.1, Trellis clients
 * and bare protocol sockets in other processes, and the floors — plain `ws` and raw
 * better-sqlite3 — measured in the same run. Prints one table per measurement, the issue's
 * targets with PASS/MISS, and one JSON line; the same goes to bench/results/sync-latest.json.
 *
 * Usage: node dist/sync/run.js [--smoke]
 * Environment: BENCH_SMOKE=1, BENCH_SYNC_CLIENTS=10,100,1000, BENCH_SYNC_HOSTS, BENCH_SYNC_WRITES,
 * BENCH_SYNC_CPU_PROF=<dir> (CPU profiles of the server and client processes), BENCH_SYNC_PIN=0 (no
 * CPU pinning, see cpu-pinning.ts), BENCH_ATTACK=storm,relations (which attacks the "under attack" phase runs).
 */
import { mkdirSync } from "node:fs";
import { cpus } from "node:os";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import { finishRun, runMain } from "../finish-run.js";
import { type SyncConfig, syncConfigFromEnv } from "./config.js";
import { onServerCpus, pinToCpus } from "./cpu-pinning.js";
import { trellisFanOut, wsBroadcastFanOut } from "./fan-out.js";
import { ingestPhases, serverIngest, sqliteCommitLatency, sqliteFloors } from "./ingest.js";
import { clientPreload, rawHttpLoad } from "./initial-load.js";
import { type Child, spawnChild } from "./ipc.js";
import { measureLatency, measureThroughput, SeenTracker } from "./replication.js";
import { roomCursors, roomEventFanOut } from "./rooms.js";
import { trellisPingRoundTrip, wsEchoRoundTrip } from "./round-trip.js";
import { type SyncResults, syncTables, syncTargetLines, syncTargets } from "./sync-report.js";
import { calmClients, calmClientsUnderAttack, largePush } from "./under-attack.js";
import { rulesCost, startRulesServer } from "./permissions.js";
import { authCost } from "./auth-cost.js";

const INGEST_APP = "bench-ingest";

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s`)), ms)),
  );
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts the server, with CPU profiling when asked (the CLI is spawned with this process's environment). */
async function startServer(profileArgs: readonly string[]): Promise<ServerProcess> {
  const before = process.env.NODE_OPTIONS;
  if (profileArgs.length > 0) process.env.NODE_OPTIONS = [before, ...profileArgs].filter(Boolean).join(" ");
  try {
    return await startServerProcess();
  } finally {
    if (before === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = before;
  }
}

function describeConfig(config: SyncConfig): string {
  return (
    `${config.isSmoke ? "smoke sizes" : "full sizes"}: latency with ${config.clientCounts.join(", ")} clients over ${config.hostProcesses} processes ` +
    `(${config.clientCounts.map((count) => config.latencyWrites(count)).join("/")} writes); throughput ${config.throughputUpdates} updates over ` +
    `${config.throughputDocs} docs; ingest ${config.ingestDocs} docs x 4 cells + ${config.ingestDocs} updates in frames of ` +
    `${config.ingestBatch}; fan-out to ${config.fanOutSockets} sockets x ${config.fanOutWrites} writes; ${config.roundTrips} round trips; room events to ${config.roomSizes.join(", ")} members x ` +
    `${config.roomEvents}; cursors of ${config.cursorMembers} members at ${config.cursorHz} Hz for ${config.cursorMs / 1000} s`
  );
}

async function main(): Promise<number> {
  const config = syncConfigFromEnv(process.env, process.argv.includes("--smoke"));
  const profileDir = process.env.BENCH_SYNC_CPU_PROF;
  // Node 20 refuses --cpu-prof in NODE_OPTIONS (the server's only way in), so profiles come from a preload.
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const profileArgs = profileDir ? [`--import=${new URL("./cpu-profile.js", import.meta.url).href}`] : [];
  const started = performance.now();
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const pinning = pinToCpus(process.env);
  console.log(`Trellis sync benchmark — node ${process.version}, ${cpus().length} x ${cpu}`);
  console.log(`${describeConfig(config)}`);
  console.log(
    pinning === undefined
      ? "CPU pinning: none (the scheduler places every process)\n"
      : `CPU pinning: the servers (Trellis and the ws floors) on CPU ${pinning.server}, the runner and the client processes on CPU ${pinning.clients}\n`,
  );

  const results: SyncResults = { latency: [], pinning: pinning ?? null };
  const failures: string[] = [];
  const phase = async (name: string, body: () => Promise<void>): Promise<void> => {
    const start = performance.now();
    process.stderr.write(`  ${name} … `);
    try {
      await withTimeout(body(), config.phaseTimeoutMs);
      process.stderr.write(`${((performance.now() - start) / 1000).toFixed(1)} s\n`);
    } catch (error) {
      process.stderr.write("FAILED\n");
      failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  // Floors first, with no server running.
  const echo = await onServerCpus(pinning, () => spawnChild(new URL("./echo-server.js", import.meta.url)));
  try {
    const echoPort = await echo.call<number>("start");
    await phase("plain ws round trips [floor]", async () => {
      results.wsRoundTrip = await wsEchoRoundTrip(echoPort, config.roundTrips);
    });
    await phase(`plain ws broadcast to ${config.fanOutSockets} sockets [floor]`, async () => {
      results.wsFanOut = await wsBroadcastFanOut(
        echoPort,
        config.fanOutSockets,
        config.fanOutWrites,
        config.latencyGapMs,
      );
    });
    await phase(
      `plain ws broadcast to ${config.fanOutSockets} sockets after a durable SQLite commit [floor]`,
      async () => {
        results.durableFanOut = await wsBroadcastFanOut(
          echoPort,
          config.fanOutSockets,
          config.fanOutWrites,
          config.latencyGapMs,
          true,
        );
      },
    );
    for (const members of config.roomSizes) {
      await phase(`plain ws broadcast to ${members} sockets, room sizes [floor]`, async () => {
        const floor = await wsBroadcastFanOut(echoPort, members, config.roomEvents, config.latencyGapMs);
        results.roomFloors = [...(results.roomFloors ?? []), floor];
      });
    }
  } finally {
    await echo.close();
  }
  const phases = ingestPhases(config.ingestDocs, config.ingestBatch);
  let floors: ReturnType<typeof sqliteFloors> | undefined;
  await phase("SQLite batched upserts and inserts [floor]", async () => {
    floors = sqliteFloors(phases);
  });
  await phase("SQLite durable commits [floor]", async () => {
    results.sqliteCommit = sqliteCommitLatency(config.roundTrips);
  });

  const server = await onServerCpus(pinning, () => startServer(profileArgs));
  const hosts: Child[] = [];
  try {
    await phase("Trellis ping round trips", async () => {
      results.trellisPing = await trellisPingRoundTrip(server.url, config.roundTrips);
    });
    await phase(`Trellis fan-out to ${config.fanOutSockets} sockets`, async () => {
      results.trellisFanOut = await trellisFanOut(
        server.url,
        config.fanOutSockets,
        config.fanOutWrites,
        config.latencyGapMs,
      );
    });
    for (const members of config.roomSizes) {
      await phase(`room event to ${members} members`, async () => {
        const events = await roomEventFanOut(
          server.url,
          members,
          config.roomEvents,
          config.latencyGapMs,
          config.roomObservers,
        );
        results.roomEvents = [...(results.roomEvents ?? []), events];
      });
    }
    await phase(
      `cursors: ${config.cursorMembers} members at ${config.cursorHz} Hz for ${config.cursorMs / 1000} s`,
      async () => {
        const roomHosts: Child[] = [];
        try {
          for (let h = 0; h < 2; h++)
            roomHosts.push(await spawnChild(new URL("./room-host.js", import.meta.url), profileArgs));
          results.cursors = await roomCursors(roomHosts, server.url, {
            members: config.cursorMembers,
            hz: config.cursorHz,
            durationMs: config.cursorMs,
          });
        } finally {
          await Promise.all(roomHosts.map((host) => host.close()));
        }
      },
    );
    await phase("well-behaved clients, the server quiet", async () => {
      results.underAttack = {
        ...results.underAttack,
        quiet: await calmClients(server.url, "bench-quiet", config.attackWrites, config.latencyGapMs),
      };
    });
    await phase("well-behaved clients under a hostile client's attack", async () => {
      const attacker = await spawnChild(new URL("./attacker.js", import.meta.url), profileArgs);
      try {
        results.underAttack = {
          ...results.underAttack,
          attacked: await calmClientsUnderAttack(attacker, server.url, config.attackWrites, config.latencyGapMs, 1),
        };
      } finally {
        await attacker.close();
      }
    });
    await phase(`a push of ${config.largePushTriples} triples over HTTP, another app pinging`, async () => {
      results.underAttack = { ...results.underAttack, largePush: await largePush(server.url, config.largePushTriples) };
    });
    await phase(
      `permission rules: ${config.rules.docs}-document snapshot, ${config.rules.subscribers} readers, pushes, revocations`,
      async () => {
        const rulesServer = await onServerCpus(pinning, () => startRulesServer());
        try {
          results.rules = await rulesCost(server.url, rulesServer.url, { ...config.rules, gapMs: config.latencyGapMs });
        } finally {
          await rulesServer.stop();
          removeDataDir(rulesServer.dataDir);
        }
      },
    );
    await phase(`connection setup with tokens checked: ${config.authConnections} connections per way`, async () => {
      results.auth = await authCost(server.url, config.authConnections);
    });
    for (let h = 0; h < config.hostProcesses; h++)
      hosts.push(await spawnChild(new URL("./client-host.js", import.meta.url), profileArgs));
    results.clockOffsets = hosts.map((host) => ({
      offsetUs: host.offsetMs * 1000,
      errorUs: (host.calibrationRttMs * 1000) / 2,
    }));
    const seen = new SeenTracker(hosts);
    for (const mode of ["clients", "sockets"] as const) {
      for (const clients of config.clientCounts) {
        await phase(
          `write → callback latency, ${clients} ${mode === "clients" ? "Trellis clients" : "connected (bare sockets)"}`,
          async () => {
            const writes = config.latencyWrites(clients);
            const appId = `bench-latency-${mode}-${clients}`;
            results.latency.push(
              await measureLatency(hosts, seen, {
                serverUrl: server.url,
                appId,
                clients,
                mode,
                writes,
                gapMs: config.latencyGapMs,
              }),
            );
          },
        );
      }
    }
    await phase("replication throughput", async () => {
      const { throughputDocs: docs, throughputUpdates: updates, throughputPerTurn: perTurn } = config;
      results.throughput = await measureThroughput(hosts, {
        serverUrl: server.url,
        appId: "bench-throughput",
        docs,
        updates,
        perTurn,
      });
    });
    await phase("server ingest", async () => {
      const ingested = await serverIngest(server.url, INGEST_APP, phases, config.ingestWindow);
      if (floors !== undefined) results.ingest = { server: ingested, upserts: floors.upserts, inserts: floors.inserts };
    });
    await phase(`initial load of ${config.ingestDocs} documents over HTTP`, async () => {
      const raw = await rawHttpLoad(server.url, INGEST_APP, config.ingestDocs, config.loadReps);
      results.load = raw; // reported even if the preload below fails
      results.load = {
        ...raw,
        preload: await clientPreload(server.url, INGEST_APP, config.ingestDocs, config.loadReps),
      };
    });
  } finally {
    await Promise.all(hosts.map((host) => host.close()));
    await server.stop();
    if (failures.length > 0) console.error(`server output:\n${server.output().slice(-4000)}`);
    removeDataDir(server.dataDir);
  }

  console.log("");
  console.log(syncTables(results));
  const targets = syncTargets(results, config.isSmoke);
  console.log(`\n${syncTargetLines(targets)}\n`);
  console.log(JSON.stringify({ sync: results, targets }));

  // The server and the client processes use both cores while they run.
  const savedConfig = { ...config, latencyWrites: config.clientCounts.map(config.latencyWrites) };
  return finishRun({
    started,
    resultsFile: "sync-latest.json",
    results: {
      date: new Date().toISOString(),
      node: process.version,
      cpu,
      config: savedConfig,
      results,
      targets,
      failures,
    },
    busyLoad: 2.5,
    failures,
  });
}

runMain(main);
