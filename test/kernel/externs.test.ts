/**
 * Externs on the running kernel: `__kconfig` values (from the kernel's config, a config file the
 * test writes, or explicit values) read back by a program, `__ksym` variables and kfunc calls
 * resolved by BTF id or kallsyms address, and `__weak` externs the kernel lacks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { arch, release, tmpdir } from "node:os";
import { join } from "node:path";
import { ktest, repoPath } from "../helpers/kernel.js";
import { BpfError, ObjectError, VerifierError, loadObject } from "../../src/index.js";
import { kernelConfig, kernelVersionCode, linuxKernelVersion, parseKconfigValue } from "../../src/features/kconfig.js";
import { kallsyms } from "../../src/features/kallsyms.js";
import { probeHelper } from "../../src/features/probe.js";
import { ProgramType } from "../../src/spec/kernel-enums.js";
import { POISON_CALL_KFUNC_BASE } from "../../src/collection/externs.js";

const obj = (name: string) => repoPath("test", "bpf", `${name}.bpf.o`);
const quiet = { onWarning() {} };

/** The C char[N] a config string becomes: at most N-1 bytes (the program copies the array). */
const cstr = (raw: string | undefined, n: number) => {
  if (raw === undefined) return "";
  const v = parseKconfigValue(raw);
  assert.equal(v.kind, "string");
  return (v.value as string).slice(0, n - 1);
};

/** A config for when the machine has none, and for the file-option test. */
const WRITTEN_CONFIG = [
  "# written by test/kernel/externs.test.ts",
  "CONFIG_BPF_SYSCALL=m",
  "# CONFIG_BPF_JIT is not set",
  "CONFIG_BPF_EVENTS=m",
  "CONFIG_HZ=1000",
  "CONFIG_DEFAULT_HOSTNAME=\"tsbpf-host\"",
  "CONFIG_LOCALVERSION=\"\"",
  "CONFIG_KPROBES=y",
  "",
].join("\n");

function withConfigFile<T>(text: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-externs-"));
  const path = join(dir, "config");
  writeFileSync(path, text);
  return fn(path).finally(() => rmSync(dir, { recursive: true, force: true }));
}

async function runKconfig(opts: Parameters<typeof loadObject>[1]) {
  using o = await loadObject(obj("externs_kconfig"), { ...quiet, programs: ["read_kconfig"], ...opts });
  assert.equal(o.program("read_kconfig").testRun({ ctx: new Uint8Array(8) }).retval, 1);
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(o.variables)) if (name.startsWith("out_")) out[name.slice(4)] = o.variables[name]!.value;
  // The externs themselves read back by name from the .kconfig map.
  assert.equal(o.variables.CONFIG_HZ!.value, out.hz);
  assert.equal(o.sections[".kconfig"]!.LINUX_KERNEL_VERSION, out.kernel_version);
  return out;
}

ktest("__kconfig externs read the kernel's config, version and feature booleans", async () => {
  let cfg: Map<string, string>;
  let option: string | undefined;
  try {
    cfg = kernelConfig().values;
  } catch (e) {
    if (!(e instanceof BpfError && e.code === "E_NO_KCONFIG")) throw e;
    console.log(`# no kernel config on this machine (${e.message}); using a config file written by the test`);
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-externs-"));
    option = join(dir, "config");
    writeFileSync(option, WRITTEN_CONFIG);
    cfg = kernelConfig(option).values;
  }
  try {
    const out = await runKconfig(option ? { kconfig: option } : {});
    // LINUX_KERNEL_VERSION: uname's a.b.c (Ubuntu: its version_signature), as libbpf computes it.
    const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release())!;
    assert.equal(out.kernel_version, linuxKernelVersion());
    assert.ok(linuxKernelVersion() >= kernelVersionCode(Number(m[1]), Number(m[2]), 0));
    if (arch() === "x64") assert.equal(out.has_syscall_wrapper, kallsyms().has("__x64_sys_bpf"));
    assert.equal(out.has_bpf_cookie, probeHelper(ProgramType.KPROBE, "get_attach_cookie").supported);
    if (linuxKernelVersion() >= kernelVersionCode(5, 15, 0)) assert.equal(out.has_bpf_cookie, true, "bpf_get_attach_cookie exists since 5.15");
    const tri = (v: string | undefined) => (v === "y" ? 1 : v === "m" ? 2 : 0);
    assert.equal(cfg.get("CONFIG_BPF_SYSCALL"), option ? "m" : "y");
    assert.equal(out.bpf_syscall, tri(cfg.get("CONFIG_BPF_SYSCALL")));
    assert.equal(out.bpf_jit, cfg.get("CONFIG_BPF_JIT") === "y");
    assert.equal(out.bpf_events, (cfg.get("CONFIG_BPF_EVENTS") ?? "n").charCodeAt(0));
    assert.equal(out.hz, Number(cfg.get("CONFIG_HZ")));
    assert.ok((out.hz as number) >= 100);
    assert.equal(out.physical_start, cfg.has("CONFIG_PHYSICAL_START") ? BigInt(cfg.get("CONFIG_PHYSICAL_START")!) : 0n);
    assert.equal(out.default_hostname, cstr(cfg.get("CONFIG_DEFAULT_HOSTNAME"), 16));
    assert.equal(out.localversion, cstr(cfg.get("CONFIG_LOCALVERSION"), 4));
    assert.equal(out.no_such_option, 0, "a weak extern the config lacks reads 0");
    assert.equal(out.kprobes, cfg.get("CONFIG_KPROBES") === "y");
  } finally {
    if (option) rmSync(join(option, ".."), { recursive: true, force: true });
  }
});

ktest("the kconfig option: a config file replaces the system's, values override it", async () => {
  await withConfigFile(WRITTEN_CONFIG, async (path) => {
    const out = await runKconfig({ kconfig: path });
    assert.equal(out.bpf_syscall, 2, "m");
    assert.equal(out.bpf_jit, false, "is not set");
    assert.equal(out.bpf_events, "m".charCodeAt(0));
    assert.equal(out.hz, 1000);
    assert.equal(out.physical_start, 0n, "weak and absent from the file");
    assert.equal(out.default_hostname, "tsbpf-host");
    assert.equal(out.localversion, "");
    assert.equal(out.kprobes, true);
    assert.equal(out.kernel_version, linuxKernelVersion(), "LINUX_ values still come from the kernel");
  });
  // Values take precedence; everything else still comes from the system's config when there is one.
  let system = true;
  try {
    kernelConfig();
  } catch {
    system = false;
  }
  const given = { CONFIG_HZ: "123", CONFIG_DEFAULT_HOSTNAME: "\"over\"", LINUX_KERNEL_VERSION: String(kernelVersionCode(5, 10, 0)) };
  if (system) {
    const out = await runKconfig({ kconfig: given });
    assert.equal(out.hz, 123);
    assert.equal(out.default_hostname, "over");
    assert.equal(out.kernel_version, kernelVersionCode(5, 10, 0));
    assert.equal(out.bpf_syscall, 1);
  }
});

ktest("a strong __kconfig extern without a value, or no config at all, fails naming it and where it looked", async () => {
  await withConfigFile(WRITTEN_CONFIG.replace("CONFIG_HZ=1000\n", ""), async (path) => {
    await assert.rejects(loadObject(obj("externs_kconfig"), { ...quiet, kconfig: path }), (e: unknown) => {
      assert.ok(e instanceof ObjectError, String(e));
      assert.match(e.message, /extern CONFIG_HZ \(__kconfig\)/);
      assert.ok(e.message.includes(path), e.message);
      assert.match(e.message, /__weak/);
      return true;
    });
  });
  await assert.rejects(loadObject(obj("externs_kconfig"), { ...quiet, kconfig: "/nonexistent/tsbpf-config" }), (e: unknown) => {
    assert.ok(e instanceof ObjectError, String(e));
    assert.match(e.message, /\/nonexistent\/tsbpf-config does not exist/);
    assert.match(e.message, /CONFIG_/);
    return true;
  });
  await assert.rejects(loadObject(obj("externs_kconfig"), { ...quiet, kconfig: { CONFIG_HZ: "\"text\"" } }), /extern CONFIG_HZ \(__kconfig 32-bit int\): the string value "text" needs a char array/);
});

// Kernels verify programs against frozen read-only maps' contents (dead code behind a CONFIG_
// test is skipped): .kconfig and .rodata are frozen before the programs load.
ktest("code behind a __kconfig value that is 0 is dead code to the verifier", async () => {
  using o = await loadObject(obj("externs_kconfig"), { ...quiet, programs: ["kconfig_dead_code"] });
  assert.equal(o.program("kconfig_dead_code").testRun({ ctx: new Uint8Array(8) }).retval, 2);
});

ktest("__ksym: kfunc calls by BTF id, a typeless symbol's kallsyms address, weak externs the kernel lacks", async () => {
  using o = await loadObject(obj("externs_ksym"), { ...quiet, programs: ["run_ksyms"] });
  const ctx = new Uint8Array(4);
  new DataView(ctx.buffer).setInt32(0, process.pid, true);
  assert.equal(o.program("run_ksyms").testRun({ ctx }).retval, 1);
  const v = (n: string) => o.variables[n]!.value;
  // bpf_task_from_pid / bpf_task_release (vmlinux kfuncs) found this process.
  assert.equal(v("out_task_pid"), process.pid);
  assert.equal(v("out_task_tgid"), process.pid);
  // extern const void schedule __ksym: the address /proc/kallsyms shows.
  assert.equal(v("out_schedule_addr"), kallsyms().address("schedule"));
  assert.notEqual(v("out_schedule_addr"), 0n);
  // A weak typed variable the kernel lacks has address 0.
  assert.equal(v("out_missing_var_addr"), 0n);
  // bpf_ksym_exists(): true for a weak kfunc the kernel has (and it was called), false for one it lacks.
  assert.equal(v("out_acquire_exists"), 1);
  assert.equal(v("out_missing_kfunc"), 1);
});

ktest("a missing weak kfunc called where reachable fails in the verifier; a missing strong one fails before", async () => {
  await assert.rejects(loadObject(obj("externs_ksym"), { ...quiet, programs: ["call_missing_weak"] }), (e: unknown) => {
    assert.ok(e instanceof VerifierError, String(e));
    assert.match(e.log, new RegExp(`unknown#${POISON_CALL_KFUNC_BASE}`));
    return true;
  });
  await assert.rejects(loadObject(obj("externs_ksym"), { ...quiet, programs: ["call_missing_strong"] }), (e: unknown) => {
    assert.ok(e instanceof ObjectError, String(e));
    assert.match(e.message, /extern bpf_tsbpf_strong_missing \(__ksym function\): not found in the BTF of vmlinux/);
    assert.match(e.message, /__weak/);
    return true;
  });
});

ktest("typed __ksym per-CPU variables resolve by BTF id (where kallsyms lets the kernel find them)", async () => {
  const cpus = (await import("node:os")).cpus().length;
  const target = cpus > 1 ? 1 : 0;
  if (kallsyms().has("runqueues")) {
    using o = await loadObject(obj("externs_ksym"), { ...quiet, programs: ["read_percpu"], constants: { target_cpu: target } });
    assert.equal(o.program("read_percpu").testRun({ ctx: new Uint8Array(8) }).retval, 1);
    assert.equal(o.variables.out_rq_cpu!.value, target);
    assert.equal(o.variables.out_prog_active_ok!.value, 1);
    return;
  }
  // Without CONFIG_KALLSYMS_ALL the kernel cannot find a data symbol's address (the verifier
  // would fail with ENOENT): tsbpf says so before loading.
  console.log("# /proc/kallsyms lacks runqueues (no CONFIG_KALLSYMS_ALL): checking the loader's explanation instead");
  await assert.rejects(loadObject(obj("externs_ksym"), { ...quiet, programs: ["read_percpu"] }), (e: unknown) => {
    assert.ok(e instanceof ObjectError, String(e));
    assert.match(e.message, /extern runqueues \(__ksym variable\): vmlinux BTF has it, but \/proc\/kallsyms does not list it/);
    assert.match(e.message, /CONFIG_KALLSYMS_ALL/);
    return true;
  });
});
