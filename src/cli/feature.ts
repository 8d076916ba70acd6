/**
 * `tsbpf feature`: what the running kernel supports, found by asking it (bpftool feature probe):
 * map types, program types, attach mechanisms, bpf_link kinds, BTF kinds, and which common
 * helpers each common program type may call.
 */
import { existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { parse, table, UsageError, wantsHelp, type Context } from "./common.js";

export const usage = `usage: tsbpf feature [--json] [--all-helpers]

  What the running kernel supports, probed by creating tiny maps and loading tiny programs:
  system settings, map types, program types (each loaded with an attach type it accepts), attach
  mechanisms (kprobes and uprobes, BPF trampolines: an fentry program loaded and attached,
  kprobe.multi, tcx, netkit), the bpf_link kinds the kernel's BTF names, BTF kinds, and which
  helpers the common program types (kprobe, tracepoint, raw_tracepoint, perf_event,
  socket_filter, sched_cls, xdp, cgroup_skb) may call. --all-helpers probes every helper the
  kernel headers name (slower).`;

/** Program types whose helper sets are probed: the ones most programs are. */
const HELPER_PROG_TYPES = ["kprobe", "tracepoint", "raw_tracepoint", "perf_event", "socket_filter", "sched_cls", "xdp", "cgroup_skb"];

/** Helpers most programs use, in roughly the order they arrived. */
const COMMON_HELPERS = [
  "map_lookup_elem", "map_update_elem", "map_delete_elem", "ktime_get_ns", "trace_printk", "get_prandom_u32",
  "get_smp_processor_id", "tail_call", "get_current_pid_tgid", "get_current_uid_gid", "get_current_comm",
  "perf_event_output", "get_stackid", "get_current_task", "probe_read_str", "send_signal", "probe_read_user",
  "probe_read_kernel", "probe_read_user_str", "probe_read_kernel_str", "ringbuf_output", "ringbuf_reserve",
  "ringbuf_submit", "ktime_get_boot_ns", "get_current_task_btf", "snprintf", "for_each_map_elem", "loop",
  "get_func_ip", "get_attach_cookie", "ktime_get_coarse_ns", "skb_load_bytes", "redirect", "redirect_map",
  "xdp_adjust_head", "override_return",
];

function sysctl(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

export async function run(args: string[], ctx: Context): Promise<number> {
  if (wantsHelp(args)) return (console.log(usage), 0);
  const { values, positionals } = parse(args, { "all-helpers": { type: "boolean" } }, "feature", usage);
  if (positionals.length) throw new UsageError(`feature takes no arguments, got ${positionals.join(" ")}`, usage);
  const { probeAll, probeHelper } = await import("../features/probe.js");
  const { probeAttachMechanisms, kernelLinkKinds } = await import("../features/attach.js");
  const { ProgramType } = await import("../spec/kernel-enums.js");
  const helperNames = values["all-helpers"] ? (await import("../asm/helpers.js")).HELPER_NAMES.filter((n) => !!n && n !== "unspec").map((n) => n.replace(/^bpf_/, "")) : COMMON_HELPERS;
  const system = {
    kernel: release(),
    unprivilegedBpfDisabled: sysctl("/proc/sys/kernel/unprivileged_bpf_disabled"),
    jitEnabled: sysctl("/proc/sys/net/core/bpf_jit_enable"),
    jitHarden: sysctl("/proc/sys/net/core/bpf_jit_harden"),
    statsEnabled: sysctl("/proc/sys/kernel/bpf_stats_enabled"),
    kernelBtf: existsSync("/sys/kernel/btf/vmlinux"),
  };
  const all = probeAll();
  const helpers: Record<string, Record<string, { supported: boolean; detail: string }>> = {};
  for (const pt of HELPER_PROG_TYPES) {
    const id = (ProgramType as Record<string, number>)[pt.toUpperCase()]!;
    if (!all.programTypes[pt]?.supported) continue;
    const row: Record<string, { supported: boolean; detail: string }> = {};
    for (const h of helperNames) row[h] = probeHelper(id, h);
    helpers[pt] = row;
  }
  const attach = probeAttachMechanisms();
  const linkKinds = kernelLinkKinds();
  const result = { system, ...all, attach, linkKinds, helpers };
  ctx.out(result, () => {
    const yes = (r: { supported: boolean; detail: string } | undefined) => (r === undefined ? "-" : r.supported ? "yes" : "no");
    const section = (title: string, rec: Record<string, { supported: boolean; detail: string }>, evidence = false) => [
      `${title}:`,
      table([["NAME", "SUPPORTED", "DETAIL"], ...Object.entries(rec).map(([n, r]) => [n, yes(r), r.supported && !evidence ? "" : r.detail])]),
    ].join("\n");
    const types = Object.keys(helpers);
    return [
      "system:",
      table([["SETTING", "VALUE"], ...Object.entries(system).map(([k, v]) => [k, String(v ?? "unknown")])]),
      "",
      section("map types", all.mapTypes),
      "",
      section("program types", all.programTypes),
      "",
      section("attach mechanisms", attach, true),
      "",
      `bpf_link kinds (enum bpf_link_type in the kernel's BTF): ${linkKinds.join(", ") || "unknown (no kernel BTF)"}`,
      "",
      section("BTF kinds", all.btfKinds),
      "",
      "helpers by program type:",
      table([["HELPER", ...types], ...helperNames.map((h) => [h, ...types.map((t) => yes(helpers[t]![h]))])]),
    ].join("\n");
  });
  return 0;
}
