/**
 * Gating and hygiene for tests that use the real kernel.
 * - Outside CI, a kernel test without privileges is skipped with a printed reason.
 * - In CI (CI=true) it runs regardless, so a missing privilege fails loudly.
 * - Every kernel test fails if it leaves a BPF or perf descriptor open.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readlinkSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";

const inCI = process.env.CI === "true" || process.env.CI === "1";

function privilegeProblem(): string | undefined {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not running as root (kernel tests need CAP_BPF/CAP_SYS_ADMIN): run `sudo npm test`";
  return undefined;
}

const skipReason = inCI ? undefined : privilegeProblem();
if (skipReason) console.log(`# kernel tests skipped: ${skipReason}`);

/** The BPF/perf descriptors this process holds, by fd number. */
export function bpfDescriptors(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    let target = "";
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (/anon_inode:(bpf|btf|\[perf_event\]|\[eventpoll\]|bpf_link|bpf-)/.test(target) || target.startsWith("anon_inode:bpf")) out.push(`${fd} -> ${target}`);
  }
  return out.sort();
}

/** Children started by startSyscaller that have not been released yet. */
const pendingChildren = new Set<ChildProcessWithoutNullStreams>();

/**
 * A test that needs the kernel: skipped with a reason outside CI when unprivileged; checks for
 * leaked fds; kills any syscaller child the test started but never released (a failed test must
 * not leave the file waiting on it).
 */
export function ktest(name: string, fn: (t: TestContext) => unknown | Promise<unknown>): void {
  test(name, { skip: skipReason }, async (t) => {
    const before = bpfDescriptors();
    try {
      await fn(t);
    } finally {
      for (const c of pendingChildren) c.kill("SIGKILL");
      pendingChildren.clear();
    }
    const after = bpfDescriptors();
    const leaked = after.filter((d) => !before.includes(d));
    assert.deepEqual(leaked, [], `test "${name}" leaked descriptors: ${leaked.join(", ")}`);
  });
}

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (works from src and from dist). */
export const repoRoot = (() => {
  let d = here;
  while (!existsSync(join(d, "package.json"))) d = dirname(d);
  return d;
})();

/** Path of a file under the repository root. */
export function repoPath(...parts: string[]): string {
  return join(repoRoot, ...parts);
}

/** Helper binaries this process compiled: deleted when it exits (and only those). */
const built = new Set<string>();
process.on("exit", () => {
  for (const f of built) rmSync(f, { force: true });
});

/**
 * Compiles test/helpers/`source` with the system C compiler into `<tmp>/tsbpf-test-<uid>/<name>-<pid>`,
 * which is deleted when this process exits. Throws with the compiler's output.
 */
export function buildHelper(source: string, name: string): string {
  const dir = join(tmpdir(), `tsbpf-test-${process.getuid?.() ?? 0}`);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${name}-${process.pid}`);
  built.add(out);
  try {
    execFileSync("cc", ["-O2", "-o", out, repoPath("test", "helpers", source)], { stdio: "pipe" });
  } catch (e) {
    rmSync(out, { force: true });
    built.delete(out);
    throw new Error(`build test/helpers/${source}: ${String((e as { stderr?: Buffer }).stderr ?? e)}`, { cause: e });
  }
  return out;
}

/** The helper binaries this process compiled and has not deleted yet. */
export function builtHelpers(): string[] {
  return [...built];
}

let syscallerPath: string | undefined;
/** Builds (once per process) the syscaller test helper with the system C compiler. */
export function syscaller(): string {
  if (syscallerPath) return syscallerPath;
  // The VM runner builds it on the host and passes it in (compiling in the guest is slow).
  if (process.env.TSBPF_SYSCALLER) return (syscallerPath = process.env.TSBPF_SYSCALLER);
  return (syscallerPath = buildHelper("syscaller.c", "syscaller"));
}

/** A started syscaller child: its pid, and `go()` which lets it run and resolves with its exit code. */
export interface Syscaller {
  pid: number;
  go(): Promise<number>;
}

/** Starts `syscaller <args>` and waits until it has printed its pid. */
export function startSyscaller(...args: string[]): Promise<Syscaller> {
  return spawnSyscaller(args, (child) => child.stdin.end("go\n"));
}

/**
 * Like startSyscaller, but `go()` sends SIGUSR1 (syscaller -s): the child makes no read(2) but
 * the ones asked for, and none is in progress when the test attaches a probe.
 */
export function startSyscallerOnSignal(...args: string[]): Promise<Syscaller> {
  return spawnSyscaller(["-s", ...args], (child) => child.kill("SIGUSR1"));
}

async function spawnSyscaller(args: string[], release: (child: ChildProcessWithoutNullStreams) => void): Promise<Syscaller> {
  const child: ChildProcessWithoutNullStreams = spawn(syscaller(), args, { stdio: "pipe" });
  pendingChildren.add(child);
  child.on("exit", () => pendingChildren.delete(child));
  const pid = await new Promise<number>((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      if (buf.includes("\n")) resolve(Number(buf.trim()));
    });
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`syscaller exited early with ${code}`)));
  });
  return {
    pid,
    go: () => new Promise<number>((resolve) => {
      child.removeAllListeners("exit");
      child.on("exit", (code) => resolve(code ?? -1));
      release(child);
    }),
  };
}

/** A path under /sys/fs/bpf for this process's pins (remove it in the test's finally). */
export function bpffsPath(name: string): string {
  return `/sys/fs/bpf/tsbpf-test-${process.pid}-${name}`;
}

/**
 * Resolves once the kernel no longer has any of the links `ids` (after their last pin and
 * descriptor are gone the kernel frees a link asynchronously); rejects after `ms`.
 */
export async function linksGone(ids: number[], ms = 5000): Promise<void> {
  const { Cmd, getFdById } = await import("../../src/sys/bpf.js");
  const end = Date.now() + ms;
  for (;;) {
    const alive = ids.filter((id) => {
      try {
        getFdById(Cmd.LINK_GET_FD_BY_ID, id, "link").close();
        return true;
      } catch {
        return false;
      }
    });
    if (alive.length === 0) return;
    if (Date.now() > end) throw new Error(`links ${alive.join(", ")} still exist ${ms} ms after their pins were removed`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
