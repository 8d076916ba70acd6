/** Perf buffer reader (BPF_MAP_TYPE_PERF_EVENT_ARRAY + per-CPU perf rings). */
export { PerfBuffer, PerfRing, type PerfBufferOptions, type PerfBufferStats } from "./perf-buffer.js";
