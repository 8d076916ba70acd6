/**
 * The uprobe_target test binary (test/helpers/uprobe_target.c): built once per process with the
 * system C compiler (it needs <sys/sdt.h> from systemtap-sdt-dev) and deleted when the process
 * exits, started as a child that waits for "go" before making its calls.
 */
import { spawn } from "node:child_process";
import { buildHelper } from "./kernel.js";

let built: string | undefined;

/** Path of the compiled uprobe_target (built on first use). */
export function uprobeTarget(): string {
  if (built) return built;
  try {
    return (built = buildHelper("uprobe_target.c", "uprobe_target"));
  } catch (e) {
    const err = (e as Error).message;
    throw new Error(err.includes("sdt.h") ? "build test/helpers/uprobe_target.c: <sys/sdt.h> is missing: install systemtap-sdt-dev (scripts/setup.sh)" : err, { cause: e });
  }
}

/** A started uprobe_target: its pid, and go() which lets it run and resolves with its exit code and output. */
export interface TargetChild {
  pid: number;
  go(): Promise<{ code: number; stdout: string }>;
  kill(): void;
}

/** Starts `uprobe_target <calls>` and waits for it to print its pid. */
export async function startTarget(calls: number, path = uprobeTarget()): Promise<TargetChild> {
  const child = spawn(path, [String(calls)], { stdio: "pipe" });
  let out = "";
  const pid = await new Promise<number>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(Number(out.split("\n")[0]));
    });
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`uprobe_target exited early with ${code}`)));
  });
  return {
    pid,
    go: () => new Promise((resolve) => {
      child.removeAllListeners("exit");
      child.on("exit", (code) => resolve({ code: code ?? -1, stdout: out }));
      child.stdin.end("go\n");
    }),
    kill: () => {
      child.removeAllListeners("exit");
      child.kill();
    },
  };
}
