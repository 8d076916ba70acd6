/**
 * The uprobe_target test binary (test/helpers/uprobe_target.c): built once per process with the
 * system C compiler (it needs <sys/sdt.h> from systemtap-sdt-dev), started as a child that waits
 * for "go" before making its calls.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoPath } from "./kernel.js";

let built: string | undefined;

/** Path of the compiled uprobe_target (built on first use). */
export function uprobeTarget(): string {
  if (built) return built;
  const dir = join(tmpdir(), `tsbpf-test-${process.getuid?.() ?? 0}`);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `uprobe_target-${process.pid}`);
  try {
    execFileSync("cc", ["-O2", "-o", out, repoPath("test", "helpers", "uprobe_target.c")], { stdio: "pipe" });
  } catch (e) {
    const err = String((e as { stderr?: Buffer }).stderr ?? e);
    throw new Error(`build test/helpers/uprobe_target.c: ${err.includes("sdt.h") ? "<sys/sdt.h> is missing: install systemtap-sdt-dev (scripts/setup.sh)" : err}`);
  }
  return (built = out);
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
