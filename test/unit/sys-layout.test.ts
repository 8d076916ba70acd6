// The bpf_attr and perf_event_attr layouts in src/sys must match the running kernel's, field by
// field. The truth is the kernel's own BTF (union bpf_attr, struct perf_event_attr).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { loadKernelBtf } from "../../src/btf/index.js";
import type { Btf } from "../../src/btf/index.js";
import { Layout } from "../../src/sys/bpf.js";
import { PerfAttrLayout } from "../../src/sys/perf.js";

const vmlinux = "/sys/kernel/btf/vmlinux";
const skip = existsSync(vmlinux) ? undefined : "no kernel BTF at /sys/kernel/btf/vmlinux";

/** Nested named structs inside link_create's union, flattened by the layout as prefix_field. */
const nested = ["kprobe_multi", "uprobe_multi", "perf_event", "tracing", "netfilter", "tcx"];

/** Byte offset of `field` inside composite type `id`, looking through anonymous members. */
function offsetOf(btf: Btf, id: number, field: string): number | undefined {
  const hit = btf.findMember(id, field);
  if (hit) return hit.bitOffset / 8;
  for (const prefix of nested) {
    if (!field.startsWith(`${prefix}_`)) continue;
    const outer = btf.findMember(id, prefix);
    if (!outer) continue;
    const inner = btf.findMember(btf.resolve(outer.member.typeId), field.slice(prefix.length + 1));
    if (inner) return (outer.bitOffset + inner.bitOffset) / 8;
  }
  return undefined;
}

test("every bpf_attr layout matches union bpf_attr in the kernel's BTF", { skip }, () => {
  const btf = loadKernelBtf();
  const attr = btf.findByName("bpf_attr", "union");
  assert.ok(attr, "union bpf_attr in vmlinux BTF");
  const u = btf.type(attr);
  if (u.kind !== "union") throw new Error("bpf_attr is not a union");
  let checked = 0;
  for (const [cmd, layout] of Object.entries(Layout)) {
    const fields = Object.entries(layout).filter(([k]) => k !== "anchor" && k !== "size") as Array<[string, number]>;
    // The command's anonymous struct is the member holding the anchor and the most of our fields
    // (ties go to the smallest struct: iter_create {link_fd, flags} over link_update).
    let best: { id: number; score: number } | undefined;
    for (const m of u.members) {
      const id = btf.resolve(m.typeId);
      if (offsetOf(btf, id, layout.anchor) === undefined) continue;
      const t = btf.type(id);
      const size = "members" in t ? t.members.length : 0;
      const score = fields.filter(([f]) => offsetOf(btf, id, f) !== undefined).length * 1000 - size;
      if (!best || score > best.score) best = { id, score };
    }
    assert.ok(best, `${cmd}: no member of union bpf_attr has ${layout.anchor}`);
    for (const [field, off] of fields) {
      const real = offsetOf(btf, best.id, field);
      if (real === undefined) {
        // Fields newer than this kernel are allowed only at the end of the struct.
        assert.ok(off >= Math.max(...fields.filter(([f]) => offsetOf(btf, best!.id, f) !== undefined).map(([, o]) => o)), `${cmd}.${field} is unknown to this kernel yet not at the end`);
        continue;
      }
      assert.equal(off, real, `${cmd}.${field}: tsbpf says offset ${off}, the kernel ${real}`);
      checked++;
    }
    assert.ok(layout.size <= btf.sizeof(attr), `${cmd}: size ${layout.size} exceeds union bpf_attr`);
  }
  assert.ok(checked > 150, `checked ${checked} fields`);
});

test("perf_event_attr layout matches the kernel's struct perf_event_attr", { skip }, () => {
  const btf = loadKernelBtf();
  const id = btf.findByName("perf_event_attr", "struct");
  assert.ok(id);
  const names: Record<string, string> = { attr_size: "size" };
  for (const [field, off] of Object.entries(PerfAttrLayout)) {
    if (field === "size") {
      assert.ok(off <= btf.sizeof(id));
      continue;
    }
    if (field === "flags") {
      assert.equal(offsetOf(btf, id, "disabled"), off, "the flags word starts with the disabled bit");
      continue;
    }
    assert.equal(offsetOf(btf, id, names[field] ?? field), off, `perf_event_attr.${field}`);
  }
});
