import assert from "node:assert/strict";
import { ktest, repoPath, startSyscaller } from "../helpers/kernel.js";
import { loadObject } from "../../src/index.js";
import { tracePipe, type TraceLine } from "../../src/trace/index.js";

const obj = repoPath("test", "bpf", "events_printk.bpf.o");

function timeout(ms: number, what: string): Promise<never> {
  return new Promise((_, rej) => {
    setTimeout(() => rej(new Error(`timed out: ${what}`)), ms).unref();
  });
}

ktest("trace_pipe: bpf_printk lines arrive parsed, with the caller's pid, CPU and message", async () => {
  const marker = Math.floor(Math.random() * 1e12);
  const child = await startSyscaller("getpid", "3");
  using o = await loadObject(obj, { constants: { target_tgid: child.pid, marker } });
  using pipe = tracePipe({ filter: (l) => l.message.startsWith(`tsbpf-marker ${marker} `) });
  const lines: TraceLine[] = [];
  const reading = (async () => {
    for await (const l of pipe) {
      lines.push(l);
      if (lines.length === 3) break;
    }
  })();
  o.attachAll({ strict: true });
  assert.equal(await child.go(), 0);
  await Promise.race([reading, timeout(5000, `3 marker lines (have ${lines.length})`)]);
  assert.deepEqual(lines.map((l) => l.message), [0, 1, 2].map((i) => `tsbpf-marker ${marker} call ${i}`));
  for (const l of lines) {
    assert.equal(l.pid, child.pid);
    assert.match(l.task, /^syscaller/);
    assert.equal(l.event, "bpf_trace_printk");
    assert.ok(l.cpu >= 0);
    assert.ok(l.timestamp > 0);
    assert.ok(l.raw.includes(l.message));
  }
  assert.deepEqual(await pipe.next(), { value: undefined, done: true }, "break closed the reader");
});

ktest("trace_pipe: an abort ends a waiting iteration without blocking the event loop", async () => {
  const ac = new AbortController();
  const pipe = tracePipe({ signal: ac.signal, filter: () => false });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  setTimeout(() => ac.abort(), 60);
  let n = 0;
  for await (const _ of pipe) n++;
  clearInterval(timer);
  assert.equal(n, 0);
  assert.ok(ticks >= 3, `timers ran while waiting (${ticks})`);
  pipe.close();
  // An already aborted signal gives an ended reader.
  const p2 = tracePipe({ signal: AbortSignal.abort() });
  assert.deepEqual(await p2.next(), { value: undefined, done: true });
});
