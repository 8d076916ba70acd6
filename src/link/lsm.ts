/**
 * BPF LSM programs (`SEC("lsm/<hook>")`, `SEC("lsm.s/<hook>")`): security hooks run on a BPF
 * trampoline (Linux 5.7+, CONFIG_BPF_LSM, and "bpf" in the active LSM list, i.e. the `lsm=` boot
 * parameter or CONFIG_LSM). The hook is fixed at load time (attach_btf_id of `bpf_lsm_<hook>`,
 * found by {@link resolveAttachBtf}); attaching makes the link.
 *
 * @example
 * ```ts
 * using obj = await loadObject("lsm.bpf.o");             // SEC("lsm/file_open")
 * using link = attachLsm(obj.programs.deny_open);
 * ```
 */
import { ArgumentError, NotSupportedError } from "../errors.js";
import { AttachType, ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import type { Link } from "./link.js";
import { attachTracing, bpfLsmActive } from "./tracing.js";

/**
 * Attaches an LSM program to the hook it was loaded for. Throws NotSupportedError when the BPF LSM
 * is not active (the program would never run) or the kernel refuses trampolines.
 */
export function attachLsm(prog: Program): Link {
  if (prog.type !== ProgramType.LSM) throw new ArgumentError(`attach lsm ${prog.name}: not an LSM program (SEC("lsm/<hook>"))`);
  if (prog.expectedAttachType === AttachType.LSM_CGROUP) throw new ArgumentError(`attach lsm ${prog.name}: lsm_cgroup programs attach to a cgroup, not globally`);
  if (bpfLsmActive() === false) {
    throw new NotSupportedError("the BPF LSM", {
      kernelConfig: "CONFIG_BPF_LSM",
      minimumKernel: "5.7",
      hint: "\"bpf\" is not in /sys/kernel/security/lsm, so LSM programs would never run: boot with lsm=<current list>,bpf (or build with CONFIG_LSM including bpf)",
    });
  }
  return attachTracing(prog);
}
