import { HELPER_NAMES } from "./helpers-table.js";

export { HELPER_NAMES } from "./helpers-table.js";

/** The name of BPF helper `id` (e.g. `helperName(1) === "bpf_map_lookup_elem"`), or undefined when unknown. */
export function helperName(id: number): string | undefined {
  return id > 0 && id < HELPER_NAMES.length ? HELPER_NAMES[id] : undefined;
}

let byName: Map<string, number> | undefined;

/** The id of a BPF helper by name, with or without the `bpf_` prefix; undefined when unknown. */
export function helperId(name: string): number | undefined {
  if (!byName) {
    byName = new Map();
    HELPER_NAMES.forEach((n, i) => { if (i > 0) byName!.set(n, i); });
  }
  return byName.get(name) ?? byName.get("bpf_" + name);
}
