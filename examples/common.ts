/** Shared by the example drivers: where their committed .bpf.o files are. */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The path of examples/<name>/<name>.bpf.o, whether the driver runs from the source tree or from
 * dist/examples/<name>/.
 */
export function exampleObject(moduleUrl: string, name: string): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const candidates = [join(here, `${name}.bpf.o`), join(here, "..", "..", "..", "examples", name, `${name}.bpf.o`)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`find ${name}.bpf.o: looked in ${candidates.join(" and ")}; run npm run bpf to build the examples`);
  return found;
}

import { NotSupportedError, type BpfObject, type Link } from "../src/index.js";
import { attachProgram } from "../src/collection/attach.js";

/**
 * Attaches `primary` as its section says; when the kernel lacks that attach point (e.g. no
 * CONFIG_KPROBES), attaches `fallback` instead and says so on stderr.
 */
export function attachWithFallback(obj: BpfObject, primary: string, fallback: string): Link {
  try {
    const link = attachProgram(obj.program(primary), obj.spec.programs[primary]!);
    if (!link) throw new Error(`${primary} has no attach point in its section name`);
    return link;
  } catch (e) {
    if (!(e instanceof NotSupportedError)) throw e;
    const fb = obj.spec.programs[fallback]!;
    console.error(`note: ${e.message.split(". ")[0]}; using ${fb.section} instead`);
    const link = attachProgram(obj.program(fallback), fb);
    if (!link) throw new Error(`${fallback} has no attach point in its section name`);
    return link;
  }
}
