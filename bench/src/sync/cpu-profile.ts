/**
 * Preload module (`node --import …/cpu-profile.js`) that records a CPU profile of the process
 * and writes it to `$BENCH_SYNC_CPU_PROF/<script>-<pid>.cpuprofile` when it exits. Node 20
 * refuses `--cpu-prof` in NODE_OPTIONS, which is the only way into the server process that
 * `startServerProcess` spawns; a preload through `--import` is allowed there.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { basename, join } from "node:path";

const dir = process.env.BENCH_SYNC_CPU_PROF;
if (dir !== undefined && dir !== "") {
  const session = new Session();
  session.connect();
  // The main thread's inspector session answers synchronously, so the exit handler can finish.
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 200 });
  session.post("Profiler.start");
  process.on("exit", () => {
    session.post("Profiler.stop", (error, result) => {
      if (error === null)
        writeFileSync(
          join(dir, `${basename(process.argv[1] ?? "node", ".js")}-${process.pid}.cpuprofile`),
          JSON.stringify(result.profile),
        );
    });
  });
}
