// Shared by gen-kernel-enums.mjs and gen-helpers.mjs: read C enums from kernel BTF via bpftool.
import { execFileSync } from "node:child_process";

/** The BTF file to read: argv --btf PATH, or $BTF, or the running kernel's. */
export function btfPath() {
  const i = process.argv.indexOf("--btf");
  if (i >= 0 && process.argv[i + 1]) return process.argv[i + 1];
  return process.env.BTF ?? "/sys/kernel/btf/vmlinux";
}

/** Dump BTF as C and return { name: [[ENUMERATOR, value], ...] } for the requested enums. */
export function readEnums(path, names) {
  const c = execFileSync("bpftool", ["btf", "dump", "file", path, "format", "c"], { encoding: "utf8", maxBuffer: 1 << 30 });
  const out = {};
  for (const name of names) {
    const m = new RegExp(`^enum ${name} \\{\\n([\\s\\S]*?)^\\};`, "m").exec(c);
    if (!m) throw new Error(`enum ${name} not found in ${path}`);
    out[name] = [...m[1].matchAll(/^\s*(\w+) = (-?\d+),$/gm)].map((x) => [x[1], Number(x[2])]);
  }
  return out;
}

/** A description of the kernel the enums came from, for the generated header. */
export function kernelDescription(path) {
  if (path !== "/sys/kernel/btf/vmlinux") return path;
  try { return `${path} of Linux ${execFileSync("uname", ["-r"], { encoding: "utf8" }).trim()}`; } catch { return path; }
}
