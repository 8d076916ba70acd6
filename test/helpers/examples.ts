/** Runs the example drivers (node dist/examples/...) as a user would, for the example tests. */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { repoPath } from "./kernel.js";

/** How a driver run ended, with its output; `lines` are stdout's lines with their arrival time (ms). */
export interface ExampleRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  lines: Array<{ at: number; text: string }>;
}

/** The path of a compiled driver, e.g. driverPath("readhist/readhist.js"). */
export function driverPath(path: string): string {
  return repoPath("dist", "examples", ...path.split("/"));
}

/**
 * Runs a driver to completion. Once it says it is attached ("attached ..." or "Counting ..."),
 * `whileRunning` runs; if that fails, the driver is killed and the run rejects.
 */
export function runExample(path: string, args: string[], whileRunning?: (child: ChildProcess) => Promise<void>): Promise<ExampleRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [driverPath(path), ...args], { stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    let partial = "";
    const lines: ExampleRun["lines"] = [];
    let started = false;
    const check = () => {
      if (!started && /^(attached|Counting) /m.test(stderr + stdout)) {
        started = true;
        whileRunning?.(child).catch((e) => {
          child.kill("SIGKILL");
          reject(e);
        });
      }
    };
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      const parts = (partial + d.toString()).split("\n");
      partial = parts.pop()!;
      for (const text of parts) lines.push({ at: Date.now(), text });
      check();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      check();
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, lines }));
  });
}

/** Runs a driver that should stop at once (e.g. a usage error): its exit code and output. */
export function runExampleSync(path: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [driverPath(path), ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
