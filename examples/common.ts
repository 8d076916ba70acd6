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
