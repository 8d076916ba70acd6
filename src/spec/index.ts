/**
 * Pure, deterministic CollectionSpec extraction from BPF ELF objects: maps (legacy, BTF-defined and
 * global data), programs linked with their subprograms, variables, license and version.
 */
export * from "./types.js";
export * from "./kernel-enums.js";
export { programSectionInfo, knownSectionPrefixes, type SectionInfo } from "./sections.js";
export { BPF_F_RDONLY_PROG, LIBBPF_PIN_BY_NAME } from "./maps.js";
export { loadCollectionSpec, type LoadCollectionSpecOptions } from "./load.js";
