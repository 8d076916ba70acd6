/**
 * perf_event_open(2) and the perf ioctls, for tracepoint, kprobe/uprobe PMU and sampling events.
 */
import { native } from "./native.js";
import { FD } from "./fd.js";
import { syscallError } from "./bpf.js";

/** perf_event_attr.type values. */
export const PerfType = { HARDWARE: 0, SOFTWARE: 1, TRACEPOINT: 2, HW_CACHE: 3, RAW: 4, BREAKPOINT: 5 } as const;

/** perf_event_attr field offsets (PERF_ATTR_SIZE_VER8 = 136 bytes). */
export const PerfAttrLayout = {
  size: 136, type: 0, attr_size: 4, config: 8, sample_period: 16, sample_freq: 16, sample_type: 24,
  read_format: 32, flags: 40, wakeup_events: 48, wakeup_watermark: 48, bp_type: 52, config1: 56,
  kprobe_func: 56, uprobe_path: 56, config2: 64, kprobe_addr: 64, probe_offset: 64, config3: 128,
} as const;

/** Bits of the perf_event_attr flags word. */
export const PerfFlag = {
  disabled: 1n << 0n, inherit: 1n << 1n, exclude_user: 1n << 4n, exclude_kernel: 1n << 5n,
  exclude_hv: 1n << 6n, freq: 1n << 10n, watermark: 1n << 14n, sample_id_all: 1n << 18n,
} as const;

export const PERF_FLAG_FD_CLOEXEC = 8;
export const PerfIoctl = {
  ENABLE: 0x2400, DISABLE: 0x2401, RESET: 0x2403, SET_BPF: 0x40042408, PAUSE_OUTPUT: 0x40042409,
} as const;

export interface PerfEventAttr {
  type: number;
  config?: bigint;
  samplePeriod?: bigint;
  sampleFreq?: bigint;
  sampleType?: bigint;
  flags?: bigint;
  wakeupEvents?: number;
  config1?: bigint;
  config2?: bigint;
  /** Strings that config1/config2 point at (kprobe function, uprobe path) are kept alive here. */
  config1String?: string;
}

/** perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC). */
export function perfEventOpen(a: PerfEventAttr, pid: number, cpu: number, what: string, groupFd = -1): FD {
  const L = PerfAttrLayout;
  const buf = new Uint8Array(L.size);
  const v = new DataView(buf.buffer);
  v.setUint32(L.type, a.type, true);
  v.setUint32(L.attr_size, L.size, true);
  v.setBigUint64(L.config, a.config ?? 0n, true);
  v.setBigUint64(L.sample_period, a.sampleFreq ?? a.samplePeriod ?? 0n, true);
  v.setBigUint64(L.sample_type, a.sampleType ?? 0n, true);
  v.setBigUint64(L.flags, (a.flags ?? 0n) | (a.sampleFreq ? PerfFlag.freq : 0n), true);
  v.setUint32(L.wakeup_events, a.wakeupEvents ?? 0, true);
  let keep: Uint8Array | undefined;
  if (a.config1String !== undefined) {
    keep = new TextEncoder().encode(a.config1String + "\0");
    v.setBigUint64(L.config1, native().addressOf(keep), true);
  } else {
    v.setBigUint64(L.config1, a.config1 ?? 0n, true);
  }
  v.setBigUint64(L.config2, a.config2 ?? 0n, true);
  const fd = native().perfEventOpen(buf, pid, cpu, groupFd, PERF_FLAG_FD_CLOEXEC);
  void keep;
  if (fd < 0) throw syscallError("perf_event_open", -fd, `open perf event for ${what}`);
  return new FD(fd, `perf event ${what}`);
}

/** ioctl on a perf event fd; throws SyscallError. */
export function perfIoctl(fd: number, request: number, arg: number, what: string): void {
  const r = native().ioctl(fd, request, arg);
  if (r < 0) throw syscallError("ioctl", -r, what);
}
