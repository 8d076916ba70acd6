#!/usr/bin/python3
"""The Python bcc side of tsbpf's event-stream benchmark (bench/ringbuf.ts, issue 6 case 4).

Opens an existing BPF ring buffer or perf event array by map id and consumes it through bcc's
readers, the ones ``BPF.open_ring_buffer`` / ``open_perf_buffer`` set up: ``bpf_new_ringbuf`` +
``bpf_consume_ringbuf`` (libbpf's ring_buffer underneath) and one ``bpf_open_perf_buffer_opts``
reader per CPU + ``perf_reader_consume``, each record delivered to a Python callback that reads
its first 8 bytes (as the C and tsbpf sides do).

    events.py ringbuf|perf MAP_ID PAGES

Prints "ready", reads a line holding N (the records the producer wrote), consumes until N
records arrived and prints one JSON line like bench/c/ringbuf_consumer. bcc's readers are opened
on the map directly (no BPF(text=...) compile: the map and the program are tsbpf's). Needs root.
Run with Debian's /usr/bin/python3 (python3-bpfcc).
"""
import ctypes as ct
import json
import sys
import time

from bcc.libbcc import lib, _RINGBUF_CB_TYPE, _RAW_CB_TYPE, _LOST_CB_TYPE, bcc_perf_buffer_opts
from bcc.utils import get_online_cpus


def main():
    if len(sys.argv) < 4:
        print("usage: events.py ringbuf|perf MAP_ID PAGES", file=sys.stderr)
        sys.exit(2)
    kind, map_id, pages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    lib.bpf_map_get_fd_by_id.restype = ct.c_int
    lib.bpf_map_get_fd_by_id.argtypes = [ct.c_uint]
    fd = lib.bpf_map_get_fd_by_id(map_id)
    if fd < 0:
        print(f"events.py: map id {map_id}: cannot open (errno {ct.get_errno()})", file=sys.stderr)
        sys.exit(1)
    state = {"events": 0, "lost": 0, "sum": 0}
    u64p = ct.POINTER(ct.c_uint64)

    if kind == "ringbuf":
        def on_record(_ctx, data, _size):
            state["sum"] += ct.cast(data, u64p).contents.value
            state["events"] += 1
            return 0

        cb = _RINGBUF_CB_TYPE(on_record)
        mgr = lib.bpf_new_ringbuf(fd, cb, None)
        if not mgr:
            print("events.py: bpf_new_ringbuf failed", file=sys.stderr)
            sys.exit(1)
        consume = lambda: lib.bpf_consume_ringbuf(mgr)
        keep = [cb]
    else:
        def on_sample(_ctx, data, _size):
            state["sum"] += ct.cast(data, u64p).contents.value
            state["events"] += 1

        def on_lost(_ctx, n):
            state["lost"] += n

        raw_cb, lost_cb = _RAW_CB_TYPE(on_sample), _LOST_CB_TYPE(on_lost)
        readers = []
        for cpu in get_online_cpus():
            opts = bcc_perf_buffer_opts()
            opts.pid = -1
            opts.cpu = cpu
            opts.wakeup_events = 1
            reader = lib.bpf_open_perf_buffer_opts(raw_cb, lost_cb, None, pages, ct.byref(opts))
            if not reader:
                print(f"events.py: cannot open the perf buffer of CPU {cpu}", file=sys.stderr)
                sys.exit(1)
            key, value = ct.c_int(cpu), ct.c_int(lib.perf_reader_fd(reader))
            if lib.bpf_update_elem(fd, ct.byref(key), ct.byref(value), 0) < 0:
                print(f"events.py: cannot store the perf event of CPU {cpu} in the map", file=sys.stderr)
                sys.exit(1)
            readers.append(reader)
        arr = (ct.c_void_p * len(readers))(*readers)
        consume = lambda: lib.perf_reader_consume(len(readers), arr)
        keep = [raw_cb, lost_cb, arr]

    print("ready", flush=True)
    line = sys.stdin.readline().split()
    want = int(line[-1]) if line else 0
    c0 = time.process_time_ns()
    t0 = time.monotonic_ns()
    stalls = 0
    while state["events"] < want and stalls < 1000:
        before = state["events"]
        consume()
        stalls = stalls + 1 if state["events"] == before else 0
    ns = time.monotonic_ns() - t0
    cpu = time.process_time_ns() - c0
    print(json.dumps({"kind": kind, "mode": "drain", "events": state["events"], "lost": state["lost"],
                      "ns": ns, "cpu_ns": cpu, "sum": state["sum"]}), flush=True)
    del keep


main()
