#!/usr/bin/python3
"""The Python bcc side of tsbpf's map benchmarks (bench/run.ts, issue 6 cases 1-3).

Same work as bench/c/map_ops.c, same JSON lines on stdout, through bcc's table API the way bcc
tools use it: ``t[t.Key(k)]``, ``t[key] = leaf``, ``del t[key]``, ``t.items()`` and
``t.items_lookup_batch()``. bcc has a single lookup form (it returns a new ctypes leaf), so the
same figure stands for both the allocation-free and the allocating rows.

    map_ops.py ops [--iters N]
    map_ops.py percpu [--iters N]
    map_ops.py dump PATH [--skip-iterate]

bcc compiles the map declarations with clang and kernel headers: scripts/bench-setup.sh provides
them and bench/run.ts passes BCC_KERNEL_SOURCE when the running kernel has none of its own.
Needs root. Run with Debian's /usr/bin/python3 (python3-bpfcc).
"""
import argparse
import ctypes as ct
import json
import sys
import time

from bcc import BPF

ENTRIES = 1024
WARMUP = 2000

PROGRAM = """
struct v64 { u64 w[8]; };
BPF_HASH(hash8, u32, u64, 1024);
BPF_HASH(hash64, u32, struct v64, 1024);
BPF_ARRAY(array8, u64, 1024);
BPF_ARRAY(array64, struct v64, 1024);
BPF_PERCPU_ARRAY(percpu, u64, 1024);
"""


def emit(op, **fields):
    print(json.dumps({"op": op, **fields}), flush=True)


def timed(iters, body):
    for i in range(WARMUP):
        body(i)
    t0 = time.perf_counter_ns()
    for i in range(iters):
        body(i)
    return (time.perf_counter_ns() - t0) / iters


def fill(t, leaf):
    for k in range(ENTRIES):
        t[t.Key(k)] = leaf


def case_ops(iters):
    b = BPF(text=PROGRAM)
    for name in ("hash8", "hash64", "array8", "array64"):
        t = b[name]
        leaf = t.Leaf()
        fill(t, leaf)
        Key = t.Key

        def lookup(i):
            return t[Key(i % ENTRIES)]

        def update(i):
            t[Key(i % ENTRIES)] = leaf

        emit(f"{name} lookup", ns=timed(iters, lookup))
        emit(f"{name} update", ns=timed(iters, update))
        if name.startswith("hash"):
            elapsed = 0
            done = 0
            while done < iters:
                n = min(ENTRIES, iters - done)
                fill(t, leaf)
                t0 = time.perf_counter_ns()
                for k in range(n):
                    del t[Key(k)]
                elapsed += time.perf_counter_ns() - t0
                done += n
            emit(f"{name} delete", ns=elapsed / iters)
    b.cleanup()


def case_percpu(iters):
    b = BPF(text=PROGRAM)
    t = b["percpu"]
    Key = t.Key
    emit("percpu lookup", ns=timed(iters, lambda i: t[Key(i % ENTRIES)]))
    b.cleanup()


def case_dump(path, skip_iterate):
    b = BPF(text=f'BPF_TABLE_PINNED("hash", u32, u64, dump, 1000000, "{path}");')
    t = b["dump"]
    if not skip_iterate:
        t0 = time.perf_counter()
        items = t.items()
        emit("dump iterate", s=time.perf_counter() - t0, n=len(items))
        del items
    t0 = time.perf_counter()
    items = list(t.items_lookup_batch())
    emit("dump batch", s=time.perf_counter() - t0, n=len(items))
    b.cleanup()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("case", choices=["ops", "percpu", "dump"])
    p.add_argument("path", nargs="?")
    p.add_argument("--iters", type=int, default=100000)
    p.add_argument("--skip-iterate", action="store_true")
    a = p.parse_args()
    if a.case == "ops":
        case_ops(a.iters)
    elif a.case == "percpu":
        case_percpu(a.iters)
    else:
        if not a.path:
            p.error("dump needs the pinned map's PATH")
        case_dump(a.path, a.skip_iterate)


if __name__ == "__main__":
    sys.exit(main())
