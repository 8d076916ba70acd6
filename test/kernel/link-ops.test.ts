/**
 * Link operations on the real kernel: groups of links (the uprobe.multi fallback, per-CPU perf
 * events) with info(), pin() into a directory, openPinned per member, update() of every member
 * and its rollback; pinned raw tracepoint and uprobe links that keep running after close() and
 * are detached once the pin is removed. One object (test/bpf/link_ops.bpf.c) counts only the
 * child whose tgid is in its .bss target_tgid, set before each child runs.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { bpffsPath, ktest, linksGone, repoPath, startSyscaller } from "../helpers/kernel.js";
import { startTarget, uprobeTarget } from "../helpers/uprobe-target.js";
import { BpfError, Link, LinkGroup, loadObject, onlineCpus, type BpfObject } from "../../src/index.js";
import { attachUprobe, attachUprobeMulti, groupLinks } from "../../src/link/uprobe.js";
import { attachRawTracepoint } from "../../src/link/raw-tracepoint.js";
import { attachPerfEventSampling, PerfEventLinks } from "../../src/link/perf-event.js";

const N = 25;
const sum = (n: number) => BigInt((n * (n - 1)) / 2);
const ops = () => loadObject(repoPath("test", "bpf", "link_ops.bpf.o"));

/** Runs uprobe_target N times as the counted process. */
async function runTarget(o: BpfObject, n = N): Promise<void> {
  const child = await startTarget(n);
  o.variables.target_tgid!.set(child.pid);
  assert.equal((await child.go()).code, 0);
}

ktest("uprobe group (one uprobe per function): links, members' info(), update() of every member, pin() as a directory, openPinned per member", async () => {
  using o = await ops();
  const a = o.program("count_a");
  const b = o.program("count_b");
  const v = o.variables;
  const dir = bpffsPath("uprobe-group");
  // A plain SEC("uprobe") program: attachUprobeMulti makes one uprobe per function (the fallback).
  const group = attachUprobeMulti(a, uprobeTarget(), ["uprobe_target_add", "second_target"]);
  try {
    assert.ok(group instanceof LinkGroup);
    assert.equal(group.links.length, 2);
    assert.deepEqual(group.memberNames, ["uprobe_target_add", "second_target"]);
    assert.match(group.mechanism, /^2 uprobe links \(one per function\) via uprobe PMU \+ bpf_link\(perf_event\)$/);
    assert.deepEqual(group.links.map((l) => l.target), [`${uprobeTarget()}:uprobe_target_add`, `${uprobeTarget()}:second_target`]);
    const info = group.info();
    assert.equal(info.members?.length, 2);
    assert.equal(info.typeName, "perf_event");
    assert.equal(info.id, 0, "the group itself has no kernel id");
    assert.equal(info.progId, a.info().id);
    assert.deepEqual(info.members!.map((m) => m.id), group.links.map((l) => l.info().id));
    assert.ok(info.members!.every((m) => m.progId === a.info().id && m.id > 0));

    await runTarget(o);
    assert.equal(v.hits_a!.get(), BigInt(2 * N), "both functions are probed");
    assert.equal(v.arg_sum_a!.get(), 2n * sum(N));

    group.update(b);
    assert.deepEqual(group.info().members!.map((m) => m.progId), [b.info().id, b.info().id]);
    assert.equal(group.attachedProgramId(), b.info().id);
    await runTarget(o);
    assert.equal(v.hits_a!.get(), BigInt(2 * N), "the old program no longer runs");
    assert.equal(v.hits_b!.get(), BigInt(2 * N), "the new one runs on every member");

    group.pin(dir);
    assert.equal(group.pinnedAt, dir);
    assert.deepEqual(readdirSync(dir).sort(), ["second_target", "uprobe_target_add"]);
    const ids = group.info().members!.map((m) => m.id);
    group.close();
    assert.ok(group.closed && group.links.every((l) => l.closed));
    {
      using one = Link.openPinned(`${dir}/uprobe_target_add`);
      assert.equal(one.info().id, ids[0]);
      assert.equal(one.info().progId, b.info().id);
      using again = LinkGroup.openPinned(dir);
      assert.deepEqual(again.links.map((l) => l.info().id).sort(), [...ids].sort());
    }
    await runTarget(o);
    assert.equal(v.hits_b!.get(), BigInt(4 * N), "the pinned members stay attached after close()");
    rmSync(dir, { recursive: true });
    await linksGone(ids);
    await runTarget(o);
    assert.equal(v.hits_b!.get(), BigInt(4 * N), "removing the pins detached them");
  } finally {
    group.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

ktest("group update() rolls back: when a member refuses, the members updated before it get their program back", async () => {
  using o = await ops();
  const a = o.program("count_a");
  const b = o.program("count_b");
  const uprobe = attachUprobe(a, uprobeTarget(), "uprobe_target_add");
  const rawTp = attachRawTracepoint(o.program("count_getpid"), "sys_enter");
  using group = groupLinks("mixed", "uprobe + raw tracepoint", "links", [uprobe, rawTp]);
  assert.throws(() => group.update(b), (e: unknown) => {
    assert.ok(e instanceof BpfError, String(e));
    assert.equal(e.code, "E_LINK_UPDATE");
    assert.match(e.message, /member 1 \(sys_enter\) refused it/);
    assert.match(e.message, /the 1 member\(s\) updated before it were put back on their previous program/);
    return true;
  });
  assert.equal(uprobe.attachedProgramId(), a.info().id);
  assert.equal(rawTp.attachedProgramId(), o.program("count_getpid").info().id);
  await runTarget(o);
  assert.equal(o.variables.hits_a!.get(), BigInt(N), "the restored program runs");
  assert.equal(o.variables.hits_b!.get(), 0n);
});

ktest("pinned raw tracepoint link: stays attached after close(), detached when the pin is removed", async () => {
  using o = await ops();
  const v = o.variables;
  const path = bpffsPath("raw-tp");
  const run = async (n: number) => {
    const child = await startSyscaller("getpid", String(n));
    v.target_tgid!.set(child.pid);
    assert.equal(await child.go(), 0);
  };
  try {
    const link = attachRawTracepoint(o.program("count_getpid"), "sys_enter");
    const id = link.info().id;
    link.pin(path);
    link.close();
    await run(N);
    assert.equal(v.getpid_hits!.get(), BigInt(N), "the pinned link runs after close()");
    {
      using pinned = Link.openPinned(path);
      assert.equal(pinned.info().typeName, "raw_tracepoint");
      rmSync(path);
      await run(N);
      assert.equal(v.getpid_hits!.get(), BigInt(2 * N), "an open descriptor still holds the link after the pin is gone");
    }
    await linksGone([id]);
    await run(N);
    assert.equal(v.getpid_hits!.get(), BigInt(2 * N), "detached once the pin and the last descriptor are gone");
  } finally {
    rmSync(path, { force: true });
  }
});

ktest("pinned uprobe link: stays attached after close(), detached when the pin is removed", async () => {
  using o = await ops();
  const v = o.variables;
  const path = bpffsPath("uprobe");
  try {
    const link = attachUprobe(o.program("count_a"), uprobeTarget(), "second_target");
    const id = link.info().id;
    link.pin(path);
    link.close();
    await runTarget(o);
    assert.equal(v.hits_a!.get(), BigInt(N));
    assert.equal(v.arg_sum_a!.get(), sum(N));
    rmSync(path);
    await linksGone([id]);
    await runTarget(o);
    assert.equal(v.hits_a!.get(), BigInt(N));
  } finally {
    rmSync(path, { force: true });
  }
});

ktest("perf_event sampling links are a group: members' info() per CPU, pin() as cpu<N> files, update()", async () => {
  using o = await loadObject(repoPath("test", "bpf", "attach_perf_event.bpf.o"));
  const p = o.program("on_sample");
  const dir = bpffsPath("perf");
  const cpus = onlineCpus();
  const prof = attachPerfEventSampling(p, { event: "cpu-clock", frequency: 100 });
  try {
    assert.ok(prof instanceof PerfEventLinks && prof instanceof LinkGroup);
    assert.deepEqual(prof.memberNames, cpus.map((c) => `cpu${c}`));
    const before = prof.info().members!.map((m) => m.id);
    assert.equal(before.length, cpus.length);
    assert.equal(prof.info().progId, p.info().id);
    prof.update(p);
    const after = prof.info().members!.map((m) => m.id);
    assert.ok(after.every((id) => !before.includes(id)), "each member was attached anew to a new perf event");
    assert.deepEqual(prof.links.map((l) => l.cpu), cpus);
    await linksGone(before);
    prof.pin(dir);
    assert.deepEqual(readdirSync(dir).sort(), cpus.map((c) => `cpu${c}`).sort());
    prof.close();
    using again = LinkGroup.openPinned(dir);
    assert.deepEqual(again.links.map((l) => l.info().id).sort(), [...after].sort());
  } finally {
    prof.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(existsSync(dir), false);
});

ktest("group pin(): a non-empty directory is refused, and a failed pin leaves nothing behind", async () => {
  using o = await ops();
  const dir = bpffsPath("group-fail");
  using group = attachUprobeMulti(o.program("count_a"), uprobeTarget(), ["uprobe_target_add", "second_target"]) as LinkGroup;
  try {
    group.pin(dir);
    assert.throws(() => group.pin(dir), (e: unknown) => e instanceof BpfError && /exists and is not empty/.test(e.message));
    rmSync(dir, { recursive: true });
    // A group whose second member has no bpf_link cannot be pinned: the first pin is undone.
    using tail = groupLinks("x", "y", "links", [group.links[0]!, new Link({ kind: "k", target: "t", mechanism: "perf_event ioctl" })]);
    assert.throws(() => tail.pin(dir), (e: unknown) => e instanceof BpfError && /which has no link to pin/.test(e.message));
    assert.equal(existsSync(dir), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
