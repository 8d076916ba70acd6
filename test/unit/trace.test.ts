import { test } from "node:test";
import assert from "node:assert/strict";
import { parseTraceLine, splitLines } from "../../src/trace/parse.js";

test("trace_pipe lines: the seed's old format with an empty event name", () => {
  const l = parseTraceLine("   memcpy_kprobe-24908 [005] d... 151374.866218: : memcpy size 2\n")!;
  assert.deepEqual(l, {
    task: "memcpy_kprobe", pid: 24908, cpu: 5, flags: "d...", timestamp: 151374.866218, event: "",
    message: "memcpy size 2", raw: "   memcpy_kprobe-24908 [005] d... 151374.866218: : memcpy size 2",
  });
});

test("trace_pipe lines: bpf_trace_printk: form, 5-character flags, idle and unknown tasks", () => {
  const a = parseTraceLine("          <idle>-0       [001] d.h.. 8831.142043: bpf_trace_printk: hello: world")!;
  assert.equal(a.task, "<idle>");
  assert.equal(a.pid, 0);
  assert.equal(a.cpu, 1);
  assert.equal(a.flags, "d.h..");
  assert.equal(a.event, "bpf_trace_printk");
  assert.equal(a.message, "hello: world");
  const b = parseTraceLine("           <...>-4512    [000] ...11   230.000001: bpf_trace_printk: tsbpf-marker 7 call 0")!;
  assert.equal(b.task, "<...>");
  assert.equal(b.pid, 4512);
  assert.equal(b.timestamp, 230.000001);
  assert.equal(b.message, "tsbpf-marker 7 call 0");
});

test("trace_pipe lines: task names with dashes and spaces, the tgid column, no flags column", () => {
  const a = parseTraceLine(" kworker/u8:2-my-task-77 [003] .... 10.5: bpf_trace_printk: x")!;
  assert.equal(a.task, "kworker/u8:2-my-task");
  assert.equal(a.pid, 77);
  const b = parseTraceLine("    Web Content-1234  (   1200) [002] d..1. 99.000100: bpf_trace_printk: with tgid")!;
  assert.equal(b.task, "Web Content");
  assert.equal(b.pid, 1234);
  assert.equal(b.tgid, 1200);
  assert.equal(b.message, "with tgid");
  const c = parseTraceLine("  sh-9 (-------) [000] 5.000001: bpf_trace_printk: no flags")!;
  assert.equal(c.tgid, undefined);
  assert.equal(c.flags, "");
  assert.equal(c.message, "no flags");
  const d = parseTraceLine("  sh-9 [000] 5.000001: bpf_trace_printk: no flags")!;
  assert.equal(d.flags, "");
  assert.equal(d.cpu, 0);
  assert.equal(d.message, "no flags");
});

test("trace_pipe lines: other lines are not records; empty messages parse", () => {
  assert.equal(parseTraceLine("CPU:1 [LOST 5 EVENTS]"), undefined);
  assert.equal(parseTraceLine(""), undefined);
  assert.equal(parseTraceLine("garbage"), undefined);
  assert.equal(parseTraceLine("  a-1 [000] d... 1.000000: bpf_trace_printk: ")!.message, "");
});

test("splitLines keeps a partial line for the next chunk", () => {
  const st = { rest: "" };
  assert.deepEqual(splitLines("a-1 [0] 1.0: : x\nb-2 [0] 1.", st), ["a-1 [0] 1.0: : x"]);
  assert.equal(st.rest, "b-2 [0] 1.");
  assert.deepEqual(splitLines("5: : y\n\n", st), ["b-2 [0] 1.5: : y"]);
  assert.equal(st.rest, "");
});
