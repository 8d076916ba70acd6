// The Go cilium/ebpf side of tsbpf's map benchmarks (bench/run.ts, issue 6 cases 1-3): the same
// work as bench/c/map_ops.c, printing the same JSON lines.
//
//	mapbench ops [-iters N]       hash/array maps, 8- and 64-byte values: lookup, update, delete
//	mapbench percpu [-iters N]    per-CPU array lookup (every possible CPU's value)
//	mapbench dump PATH [-batch B] the pinned 1M-entry hash map: Iterate vs BatchLookup
//	mapbench events ringbuf|perf MAP_ID PAGES
//	                              case 4 (bench/ringbuf.ts): opens the ring buffer or perf event
//	                              array by id with ringbuf.NewReader / perf.NewReader (PAGES data
//	                              pages per CPU), prints "ready", reads a line holding N, then
//	                              times N ReadInto calls (reused Record, the first 8 bytes of each
//	                              record read, as the C side does) and prints one JSON line
//
// Lookups use cilium/ebpf's zero-copy form (unsafe.Pointer key and value: no marshalling), which
// is the fastest the library offers; "lookup alloc" uses LookupBytes (a new []byte per call).
//
// Built offline against Debian's golang-github-cilium-ebpf-dev (0.9.1) in GOPATH mode; see
// scripts/bench-setup.sh and bench/README.md.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"
)

const entries = 1024
const warmup = 10000

func die(what string, err error) {
	fmt.Fprintf(os.Stderr, "mapbench: %s: %v\n", what, err)
	os.Exit(1)
}

func reportNs(op string, iters int, d time.Duration) {
	fmt.Printf("{\"op\":%q,\"ns\":%.1f}\n", op, float64(d.Nanoseconds())/float64(iters))
}

func newMap(typ ebpf.MapType, valueSize uint32) *ebpf.Map {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: typ, KeySize: 4, ValueSize: valueSize, MaxEntries: entries})
	if err != nil {
		die("create map", err)
	}
	return m
}

func fill(m *ebpf.Map, v []byte) {
	for k := uint32(0); k < entries; k++ {
		if err := m.Update(unsafe.Pointer(&k), unsafe.Pointer(&v[0]), ebpf.UpdateAny); err != nil {
			die("fill", err)
		}
	}
}

func timeLoop(iters int, body func(i int) error) time.Duration {
	for i := 0; i < warmup; i++ {
		_ = body(i)
	}
	t0 := time.Now()
	for i := 0; i < iters; i++ {
		if err := body(i); err != nil {
			die("operation", err)
		}
	}
	return time.Since(t0)
}

func caseOps(iters int) {
	type spec struct {
		name      string
		typ       ebpf.MapType
		valueSize uint32
	}
	for _, s := range []spec{{"hash8", ebpf.Hash, 8}, {"hash64", ebpf.Hash, 64}, {"array8", ebpf.Array, 8}, {"array64", ebpf.Array, 64}} {
		m := newMap(s.typ, s.valueSize)
		v := make([]byte, s.valueSize)
		v[0] = 1
		fill(m, v)
		var k uint32
		kp, vp := unsafe.Pointer(&k), unsafe.Pointer(&v[0])
		reportNs(s.name+" lookup", iters, timeLoop(iters, func(i int) error {
			k = uint32(i % entries)
			return m.Lookup(kp, vp)
		}))
		reportNs(s.name+" lookup alloc", iters, timeLoop(iters, func(i int) error {
			k = uint32(i % entries)
			_, err := m.LookupBytes(kp)
			return err
		}))
		reportNs(s.name+" update", iters, timeLoop(iters, func(i int) error {
			k = uint32(i % entries)
			return m.Update(kp, vp, ebpf.UpdateAny)
		}))
		if s.typ == ebpf.Hash {
			var elapsed time.Duration
			for done := 0; done < iters; {
				n := iters - done
				if n > entries {
					n = entries
				}
				fill(m, v)
				t0 := time.Now()
				for j := 0; j < n; j++ {
					k = uint32(j)
					if err := m.Delete(kp); err != nil {
						die("delete", err)
					}
				}
				elapsed += time.Since(t0)
				done += n
			}
			reportNs(s.name+" delete", iters, elapsed)
		}
		m.Close()
	}
}

func casePercpu(iters int) {
	m := newMap(ebpf.PerCPUArray, 8)
	defer m.Close()
	ncpu, err := possibleCPUs()
	if err != nil {
		die("possible CPUs", err)
	}
	v := make([]uint64, ncpu)
	var k uint32
	kp, vp := unsafe.Pointer(&k), unsafe.Pointer(&v[0])
	reportNs("percpu lookup", iters, timeLoop(iters, func(i int) error {
		k = uint32(i % entries)
		return m.Lookup(kp, vp)
	}))
	// The idiomatic form decodes into one value per CPU ([]uint64), allocating.
	reportNs("percpu lookup alloc", iters, timeLoop(iters, func(i int) error {
		k = uint32(i % entries)
		var out []uint64
		return m.Lookup(kp, &out)
	}))
}

// possibleCPUs reads /sys/devices/system/cpu/possible ("0-N"), as cilium/ebpf does internally.
func possibleCPUs() (int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return 0, err
	}
	var lo, hi int
	if n, _ := fmt.Sscanf(string(b), "%d-%d", &lo, &hi); n == 2 {
		return hi + 1, nil
	}
	return 1, nil
}

func caseDump(path string, batch int) {
	m, err := ebpf.LoadPinnedMap(path, nil)
	if err != nil {
		die("open pinned map", err)
	}
	defer m.Close()
	max := int(m.MaxEntries())
	keys := make([]uint32, 0, max)
	values := make([]uint64, 0, max)

	t0 := time.Now()
	var k uint32
	var v uint64
	it := m.Iterate()
	for it.Next(&k, &v) {
		keys = append(keys, k)
		values = append(values, v)
	}
	if err := it.Err(); err != nil {
		die("iterate", err)
	}
	fmt.Printf("{\"op\":\"dump iterate\",\"s\":%.6f,\"n\":%d}\n", time.Since(t0).Seconds(), len(keys))

	keys, values = keys[:0], values[:0]
	t0 = time.Now()
	kb := make([]uint32, batch)
	vb := make([]uint64, batch)
	var prev interface{}
	var token uint32
	for {
		n, err := m.BatchLookup(prev, &token, kb, vb, nil)
		keys = append(keys, kb[:n]...)
		values = append(values, vb[:n]...)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			die("batch lookup", err)
		}
		prev = token
	}
	fmt.Printf("{\"op\":\"dump batch\",\"s\":%.6f,\"n\":%d}\n", time.Since(t0).Seconds(), len(keys))
}

func cpuNs() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// caseEvents is the drain measurement of bench/ringbuf.ts: the ring is filled after "ready",
// then exactly N records (the count the producer reported) are read.
func caseEvents(kind string, id int, pages int) {
	m, err := ebpf.NewMapFromID(ebpf.MapID(id))
	if err != nil {
		die("open map by id", err)
	}
	defer m.Close()
	var next func() ([]byte, uint64, error)
	var closeReader func()
	if kind == "perf" {
		r, err := perf.NewReader(m, pages*os.Getpagesize())
		if err != nil {
			die("perf.NewReader", err)
		}
		var rec perf.Record
		next = func() ([]byte, uint64, error) {
			err := r.ReadInto(&rec)
			return rec.RawSample, rec.LostSamples, err
		}
		closeReader = func() { r.Close() }
	} else {
		r, err := ringbuf.NewReader(m)
		if err != nil {
			die("ringbuf.NewReader", err)
		}
		var rec ringbuf.Record
		next = func() ([]byte, uint64, error) {
			err := r.ReadInto(&rec)
			return rec.RawSample, 0, err
		}
		closeReader = func() { r.Close() }
	}
	defer closeReader()
	fmt.Println("ready")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		die("read the record count", err)
	}
	f := strings.Fields(line)
	want, err := strconv.ParseUint(f[len(f)-1], 10, 64)
	if err != nil {
		die("record count", err)
	}
	var events, lost, sum uint64
	c0 := cpuNs()
	t0 := time.Now()
	for events < want {
		raw, l, err := next()
		if err != nil {
			die("read", err)
		}
		if l > 0 {
			lost += l
			continue
		}
		sum += binary.LittleEndian.Uint64(raw)
		events++
	}
	ns := time.Since(t0).Nanoseconds()
	cpu := cpuNs() - c0
	fmt.Printf("{\"kind\":%q,\"mode\":\"drain\",\"events\":%d,\"lost\":%d,\"ns\":%d,\"cpu_ns\":%d,\"sum\":%d}\n", kind, events, lost, ns, cpu, sum)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mapbench ops|percpu [-iters N] | dump PATH [-batch B]")
		os.Exit(2)
	}
	c := os.Args[1]
	args := os.Args[2:]
	if c == "events" {
		if len(args) < 3 {
			fmt.Fprintln(os.Stderr, "usage: mapbench events ringbuf|perf MAP_ID PAGES")
			os.Exit(2)
		}
		id, err1 := strconv.Atoi(args[1])
		pages, err2 := strconv.Atoi(args[2])
		if err1 != nil || err2 != nil {
			die("arguments", errors.New("MAP_ID and PAGES are numbers"))
		}
		caseEvents(args[0], id, pages)
		return
	}
	path := ""
	if c == "dump" {
		if len(args) < 1 {
			fmt.Fprintln(os.Stderr, "usage: mapbench dump PATH [-batch B]")
			os.Exit(2)
		}
		path, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet(c, flag.ExitOnError)
	iters := fs.Int("iters", 1000000, "calls per operation")
	batch := fs.Int("batch", 4096, "entries per batch lookup")
	_ = fs.Parse(args)
	switch c {
	case "ops":
		caseOps(*iters)
	case "percpu":
		casePercpu(*iters)
	case "dump":
		caseDump(path, *batch)
	default:
		fmt.Fprintf(os.Stderr, "mapbench: unknown case %s\n", c)
		os.Exit(2)
	}
}
