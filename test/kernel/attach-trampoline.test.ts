/**
 * Programs on BPF trampolines (fentry, fexit, fmod_ret, freplace, LSM) and kprobe.multi/ksyscall.
 *
 * Whether the kernel allows trampolines is found by probing (loading and attaching a tiny fentry
 * program), kprobes by their PMU/tracefs files, the BPF LSM by /sys/kernel/security/lsm. Where a
 * feature is missing, its real tests skip with the reason printed, and instead a test asserts that
 * tsbpf reports it as a NotSupportedError naming the feature. `npm run test:vm` runs this file in a
 * VM with Debian's kernel and TSBPF_EXPECT_TRAMPOLINES=1 / TSBPF_EXPECT_LSM=1 /
 * TSBPF_EXPECT_KPROBES=1: then the real tests run whatever the probes say, and a missing feature
 * fails them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, existsSync, openSync, readSync, statfsSync } from "node:fs";
import { ktest, repoPath, startSyscaller } from "../helpers/kernel.js";
import { LinkGroup, NotSupportedError, loadObject, openObject, loadCollection } from "../../src/index.js";
import { attachFentry, attachFexit, attachFmodRet, attachFreplace, attachTracing, bpfLsmActive, kernelConfigOption, moduleBtfFd, probeTrampolines, resolveAttachBtf, setAttachTarget, type TrampolineProbe } from "../../src/link/tracing.js";
import { objGetInfoByFd } from "../../src/sys/bpf.js";
import { attachLsm } from "../../src/link/lsm.js";
import { attachKprobeMulti, attachKsyscall, ksyscallName } from "../../src/link/kprobe-multi.js";
import { linkDetails } from "../../src/link/info.js";
import { AttachType } from "../../src/spec/kernel-enums.js";
import { probeAttachMechanisms } from "../../src/features/attach.js";

const object = repoPath("test", "bpf", "attach_trampoline.bpf.o");
const READ_SIZE = "777";
const isRoot = process.getuid?.() === 0;

const expectTrampolines = process.env.TSBPF_EXPECT_TRAMPOLINES === "1";
const expectLsm = process.env.TSBPF_EXPECT_LSM === "1";
const expectKprobes = process.env.TSBPF_EXPECT_KPROBES === "1";

const trampolines: TrampolineProbe = isRoot ? probeTrampolines() : { supported: false, reason: "not root" };
const trampolineSkip = expectTrampolines || trampolines.supported ? undefined : `BPF trampolines are not available on this kernel: ${trampolines.reason}`;
const lsmSkip = expectLsm ? undefined : trampolineSkip ?? (bpfLsmActive() === true ? undefined : "the BPF LSM is not known to be active (\"bpf\" not in /sys/kernel/security/lsm, or securityfs not mounted)");
const hasKprobes = existsSync("/sys/bus/event_source/devices/kprobe/type") || existsSync("/sys/kernel/tracing/kprobe_events") || existsSync("/sys/kernel/debug/tracing/kprobe_events");
const kprobeSkip = expectKprobes || hasKprobes ? undefined : "this kernel has no kprobes (CONFIG_KPROBES is off)";
for (const r of new Set([trampolineSkip, lsmSkip, kprobeSkip])) if (r) console.log(`# skipping real attach tests: ${r}`);

function gated(skip: string | undefined, name: string, fn: Parameters<typeof ktest>[1]): void {
  if (skip) test(name, { skip }, () => {});
  else ktest(name, fn);
}

// ------------------------------------------------------------------------------------------------
// Where the kernel refuses: the error must name the feature.

gated(trampolines.supported || expectTrampolines ? "the kernel permits BPF trampolines" : undefined, "without trampolines, loading fentry/fexit/fmod_ret/freplace/lsm throws NotSupportedError naming the feature", async () => {
  for (const [prog, feature] of [["on_read_entry", /BPF trampoline \(fentry\/fexit\/fmod_ret\)/], ["on_read_exit", /BPF trampoline/], ["on_modify", /BPF trampoline/], ["on_file_open", /BPF LSM/]] as const) {
    await assert.rejects(loadObject(object, { programs: [prog] }), (e: unknown) => {
      assert.ok(e instanceof NotSupportedError, `${prog}: ${String(e)}`);
      assert.match(e.feature, feature);
      assert.match(e.message, /not available here: the kernel refused to load the program \(EPERM\)/);
      assert.ok(e.kernelConfig, "names a kernel config option");
      return true;
    });
  }
  using target = await loadObject(object, { programs: ["xdp_target"] });
  const spec = await openObject(object);
  setAttachTarget(spec.programs.new_verdict!, { program: target.program("xdp_target"), func: "get_verdict" });
  assert.throws(() => loadCollection(spec, { programs: ["new_verdict"] }), (e: unknown) => e instanceof NotSupportedError && /freplace/.test(e.feature));
  assert.equal(trampolines.supported, false);
  assert.ok(trampolines.error instanceof NotSupportedError);
  assert.match(trampolines.error.message, /BPF trampolines \(fentry\/fexit\/fmod_ret\) are not available/);
});

gated(hasKprobes || expectKprobes ? "the kernel has kprobes" : undefined, "without kprobes, kprobe.multi and ksyscall throw NotSupportedError naming CONFIG_KPROBES/CONFIG_FPROBE", async () => {
  using o = await loadObject(object, { programs: ["on_read_multi", "on_getpid_sys"] });
  assert.throws(() => attachKprobeMulti(o.program("on_read_multi"), ["vfs_read"]), (e: unknown) => e instanceof NotSupportedError && /CONFIG_KPROBES/.test(e.message));
  assert.throws(() => attachKsyscall(o.program("on_getpid_sys"), "getpid"), (e: unknown) => e instanceof NotSupportedError && /CONFIG_KPROBES/.test(e.message));
  const r = o.attachAll();
  assert.equal(r.links.length, 0);
  assert.deepEqual(r.skipped.map((s) => s.error?.code).sort(), ["E_NOT_SUPPORTED", "E_NOT_SUPPORTED"]);
});

ktest("ksyscallName resolves the architecture's syscall wrapper from /proc/kallsyms", () => {
  const name = ksyscallName("getpid");
  assert.match(name, /^(__\w+_sys_getpid|sys_getpid)$/);
  if (process.arch === "x64") assert.equal(name, "__x64_sys_getpid");
  assert.throws(() => ksyscallName("no_such_syscall_tsbpf"), /no_such_syscall_tsbpf/);
});

// ------------------------------------------------------------------------------------------------
// Where the kernel allows: the programs run.

gated(trampolineSkip, "fentry and fexit on vfs_read count a child's reads and the bytes read", async () => {
  const n = 100;
  const child = await startSyscaller("read", String(n), READ_SIZE);
  using o = await loadObject(object, { constants: { target_tgid: child.pid }, programs: ["on_read_entry", "on_read_exit"] });
  using entry = attachFentry(o.program("on_read_entry"));
  using exit = attachFexit(o.program("on_read_exit"));
  assert.equal(entry.kind, "fentry");
  assert.equal(exit.kind, "fexit");
  for (const l of [entry, exit]) console.log(`# ${l.kind} attached through ${l.mechanism}`);
  const d = linkDetails(entry);
  assert.equal(d.kind, "tracing");
  if (d.kind === "tracing") assert.equal(d.attachType, AttachType.TRACE_FENTRY);
  assert.equal(await child.go(), 0);
  assert.equal(o.variables.read_entries!.get(), BigInt(n));
  assert.equal(o.variables.read_exits!.get(), BigInt(n));
  assert.equal(o.variables.read_bytes!.get(), BigInt(n * Number(READ_SIZE)));
});

gated(trampolineSkip, "fentry/fexit auto-attach from their sections", async () => {
  const child = await startSyscaller("read", "10", READ_SIZE);
  using o = await loadObject(object, { constants: { target_tgid: child.pid }, programs: ["on_read_entry", "on_read_exit"] });
  const { links, skipped } = o.attachAll({ strict: true });
  assert.deepEqual(skipped, []);
  assert.deepEqual(links.map((l) => l.kind).sort(), ["fentry", "fexit"]);
  assert.equal(await child.go(), 0);
  assert.equal(o.variables.read_entries!.get(), 10n);
});

gated(trampolineSkip, "fmod_ret on bpf_modify_return_test replaces its return value (seen through BPF_PROG_TEST_RUN)", async () => {
  // Without error injection, 6.1 lets fmod_ret modify only security_* hooks: tsbpf must say so.
  // 6.12 also allows the functions of its fmodret BTF id sets, bpf_modify_return_test among them.
  const series = process.env.TSBPF_VM_SERIES;
  const mayRefuse = kernelConfigOption("CONFIG_FUNCTION_ERROR_INJECTION") !== "y" && series !== "6.12";
  let loaded;
  try {
    loaded = await loadObject(object, { programs: ["on_modify"] });
  } catch (e) {
    assert.ok(mayRefuse, `the kernel (${series ?? "with error injection"}) must accept it: ${String(e)}`);
    assert.ok(e instanceof NotSupportedError && /CONFIG_FUNCTION_ERROR_INJECTION/.test(e.message) && /bpf_modify_return_test\(\) is not modifiable/.test(e.message), String(e));
    return;
  }
  using o = loaded;
  assert.notEqual(series, "6.1", "Debian's 6.1 (no CONFIG_FUNCTION_ERROR_INJECTION) refuses fmod_ret on bpf_modify_return_test");
  // test_run calls bpf_modify_return_test(1, &b) (returns 4, increments b: a side effect), plus on
  // newer kernels another test function; retval = side effects << 16 | the sum of the returns.
  // Compare with a run before attaching (the program does not run then).
  const before = o.program("on_modify").testRun().retval;
  assert.equal(o.variables.modify_calls!.get(), 0n);
  using link = attachFmodRet(o.program("on_modify"));
  assert.equal(link.kind, "fmod_ret");
  const r = o.program("on_modify").testRun();
  assert.equal((r.retval & 0xffff) - (before & 0xffff), 1234 - 4, "the function's return value (4) became the program's (1234)");
  assert.equal((before >>> 16) - (r.retval >>> 16), 1, "the function body (its side effect) was skipped");
  assert.equal(o.variables.modify_calls!.get(), 1n);
});

gated(trampolineSkip, "fmod_ret on security_file_open counts a child's opens and lets them proceed", async () => {
  const child = await startSyscaller("read", "3", READ_SIZE);
  using o = await loadObject(object, { constants: { target_tgid: child.pid }, programs: ["on_security_open"] });
  using link = attachFmodRet(o.program("on_security_open"));
  assert.equal(link.kind, "fmod_ret");
  // The child opens /dev/zero once after go(); the open succeeds (exit 0) because the program returns 0.
  assert.equal(await child.go(), 0);
  assert.equal(o.variables.security_opens!.get(), 1n);
});

gated(trampolineSkip, "freplace replaces a global function of a loaded XDP program", async () => {
  using target = await loadObject(object, { programs: ["xdp_target"] });
  const xdp = target.program("xdp_target");
  const packet = new Uint8Array(64);
  assert.equal(xdp.testRun({ data: packet }).retval, 2, "XDP_PASS before");
  const spec = await openObject(object);
  setAttachTarget(spec.programs.new_verdict!, { program: xdp, func: "get_verdict" });
  using repl = loadCollection(spec, { programs: ["new_verdict"] });
  using link = attachFreplace(repl.program("new_verdict"));
  assert.equal(link.kind, "freplace");
  assert.equal(xdp.testRun({ data: packet }).retval, 1, "XDP_DROP while replaced");
  link.close();
  assert.equal(xdp.testRun({ data: packet }).retval, 2, "XDP_PASS after the link is closed");
});

gated(lsmSkip, "lsm/file_open sees the child's open of /dev/zero", async () => {
  const child = await startSyscaller("read", "3", READ_SIZE);
  using o = await loadObject(object, { constants: { target_tgid: child.pid }, programs: ["on_file_open"] });
  using link = attachLsm(o.program("on_file_open"));
  assert.equal(link.kind, "lsm");
  assert.equal(await child.go(), 0);
  assert.equal(o.variables.file_opens!.get(), 1n);
});

gated(kprobeSkip, "kprobe.multi on vfs_read counts a child's reads (or falls back to one kprobe per function)", async () => {
  const n = 50;
  const child = await startSyscaller("read", String(n), READ_SIZE);
  using o = await loadObject(object, { constants: { target_tgid: child.pid }, programs: ["on_read_multi"] });
  using link = attachKprobeMulti(o.program("on_read_multi"), ["vfs_read"]);
  console.log(`# kprobe.multi attached through ${link.mechanism}`);
  // Which mechanism: the feature probe, checked against what the VM runner knows of its kernel
  // (TSBPF_EXPECT_KPROBE_MULTI: 1 on 6.12, 0 on 6.1 without CONFIG_FPROBE).
  const native = probeAttachMechanisms()["kprobe.multi"]!.supported;
  const known = process.env.TSBPF_EXPECT_KPROBE_MULTI;
  if (known === "1" || known === "0") assert.equal(native, known === "1", `kprobe.multi probe vs TSBPF_EXPECT_KPROBE_MULTI=${known}`);
  assert.equal(link.mechanism === "bpf_link(kprobe_multi)", native, `mechanism ${link.mechanism}; the kernel ${native ? "has" : "lacks"} kprobe.multi links`);
  if (native) {
    const d = linkDetails(link);
    assert.equal(d.kind, "kprobe_multi");
    if (d.kind === "kprobe_multi") assert.equal(d.count, 1);
  } else {
    // The fallback: a group of one kprobe per function, whose members are the links.
    assert.ok(link instanceof LinkGroup, link.mechanism);
    assert.deepEqual(link.memberNames, ["vfs_read"]);
    assert.deepEqual(link.links.map((l) => l.kind), ["kprobe"]);
    // Members attached with PERF_EVENT_IOC_SET_BPF (6.1 refuses a perf bpf_link for a program
    // loaded as kprobe.multi) have no link info; the group still knows its program.
    assert.equal(link.attachedProgramId(), o.program("on_read_multi").info().id);
    if (link.links[0]!.linkFd) assert.equal(link.info().members?.length, 1);
  }
  assert.equal(await child.go(), 0);
  assert.equal(o.variables.multi_reads!.get(), BigInt(n));
});

gated(kprobeSkip, "ksyscall/getpid auto-attaches to the syscall's kernel symbol and counts the calls", async () => {
  const n = 40;
  const child = await startSyscaller("getpid", String(n));
  using o = await loadObject(object, { constants: { target_tgid: child.pid }, programs: ["on_getpid_sys"] });
  const { links, skipped } = o.attachAll({ strict: true });
  assert.deepEqual(skipped, []);
  assert.equal(links[0]!.target, ksyscallName("getpid"));
  assert.equal(await child.go(), 0);
  assert.equal(o.variables.getpid_calls!.get(), BigInt(n));
});

gated(trampolineSkip, "attachTracing is the generic form and refuses non-tracing programs", async () => {
  using o = await loadObject(object, { programs: ["on_read_entry", "xdp_target"] });
  using l = attachTracing(o.program("on_read_entry"));
  assert.equal(l.kind, "fentry");
  assert.throws(() => attachTracing(o.program("xdp_target")), /not a tp_btf, fentry/);
});

const OVERLAYFS_SUPER_MAGIC = 0x794c7630;
const moduleSkip = trampolineSkip ?? (expectTrampolines || existsSync("/sys/kernel/btf/overlay") ? undefined : "the overlay module (and its BTF, /sys/kernel/btf/overlay) is not loaded");
if (moduleSkip && !trampolineSkip) console.log(`# skipping fentry on a module function: ${moduleSkip}`);

gated(moduleSkip, "fentry on a module function (overlay's ovl_read_iter), found in the module's BTF, by search and by module:func, counts this thread's reads of an overlayfs file", async () => {
  const file = repoPath("package.json");
  assert.equal(Number(statfsSync(file).type), OVERLAYFS_SUPER_MAGIC, `${file} is on overlayfs (the VM's root is an overlay)`);
  const spec = await openObject(repoPath("test", "bpf", "attach_module.bpf.o"));
  const target = resolveAttachBtf(spec.programs.on_ovl_read!)!;
  try {
    assert.equal(target.target, "overlay:ovl_read_iter", "not in vmlinux: found in the overlay module's BTF");
    assert.ok(target.attachBtfObjFd, "loaded with attach_btf_obj_fd");
  } finally {
    target.close();
  }
  // The main thread's tid is the process id; libuv's threads have their own.
  using o = loadCollection(spec, { constants: { target_tid: process.pid } });
  const { links, skipped } = o.attachAll({ strict: true });
  assert.deepEqual(skipped, []);
  try {
    assert.deepEqual(links.map((l) => [l.kind, l.mechanism]), [["fentry", "bpf_link(tracing)"], ["fentry", "bpf_link(tracing)"]]);
    const overlayBtfId = (() => {
      const fd = moduleBtfFd("overlay")!;
      try {
        const info = new Uint8Array(32);
        objGetInfoByFd(fd.value, info, "BTF");
        return new DataView(info.buffer).getUint32(12, true);
      } finally {
        fd.close();
      }
    })();
    for (const l of links) {
      const d = linkDetails(l);
      assert.equal(d.kind, "tracing");
      if (d.kind === "tracing") assert.equal(d.targetObjId, overlayBtfId, `${l.target}: the trampoline is on the overlay module's BTF object`);
    }
    const reads = 50;
    const fd = openSync(file, "r");
    try {
      const buf = Buffer.alloc(16);
      for (let i = 0; i < reads; i++) readSync(fd, buf, 0, buf.length, 0);
    } finally {
      closeSync(fd);
    }
    assert.equal(o.variables.ovl_reads!.get(), BigInt(reads));
    assert.equal(o.variables.ovl_reads_named!.get(), BigInt(reads));
  } finally {
    for (const l of links) l.close();
  }
});
