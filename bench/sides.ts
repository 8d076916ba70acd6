/**
 * How the Go (cilium/ebpf) and Python (bcc) sides of the benchmarks are built and run: shared by
 * bench/run.ts and bench/ringbuf.ts (which can also run alone).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";

/** Debian's python3 (python3-bpfcc installs bcc for it, not for other interpreters on PATH). */
export const PY = "/usr/bin/python3";

/** Runs a command; returns undefined when it succeeded, else a short reason. */
export function tryRun(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string | undefined {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...opts });
  if (r.error) return r.error.message;
  if (r.status !== 0) return (r.stderr || r.stdout || `exit ${r.status}`).trim().split("\n").slice(-3).join(" | ");
  return undefined;
}

/**
 * Builds bench/go/mapbench offline in GOPATH mode against Debian's golang-github-cilium-ebpf-dev
 * (/usr/share/gocode): no module proxy, no network. Returns the binary, or why it cannot be built.
 */
export function buildGo(root: string): { bin: string } | { error: string } {
  const gopath = "/usr/share/gocode";
  const goDir = join(root, "bench", "go");
  if (!existsSync(join(gopath, "src/github.com/cilium/ebpf"))) {
    return { error: `cilium/ebpf sources not found in ${gopath} (apt-get install golang-go golang-github-cilium-ebpf-dev, or run scripts/bench-setup.sh)` };
  }
  const cache = join(root, "build", "go-cache");
  mkdirSync(cache, { recursive: true });
  const bin = join(goDir, "mapbench");
  const err = tryRun("go", ["build", "-o", bin, "."], {
    cwd: goDir,
    env: { ...process.env, GO111MODULE: "off", GOPATH: gopath, GOFLAGS: "", GOPROXY: "off", GOCACHE: cache },
  });
  return err ? { error: `go build in bench/go failed: ${err}` } : { bin };
}

/**
 * The environment bcc needs: it compiles even map declarations with kernel headers, so when the
 * running kernel has none, BCC_KERNEL_SOURCE points at the Debian headers tree that
 * scripts/bench-setup.sh prepares. `note` says so when that happens.
 */
export function bccEnv(): { env: NodeJS.ProcessEnv; note?: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const kheaders = "/var/cache/tsbpf-bench/kheaders";
  if (!existsSync(`/lib/modules/${release()}/build`) && !process.env.BCC_KERNEL_SOURCE && existsSync(kheaders)) {
    env.BCC_KERNEL_SOURCE = kheaders;
    return { env, note: `Python: no headers for kernel ${release()}; bcc compiles against Debian's (${kheaders}), enough for map declarations` };
  }
  return { env };
}
