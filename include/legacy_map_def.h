/* SPDX-License-Identifier: MIT */
/*
 * Legacy map definition for BPF objects that declare maps in the "maps" ELF
 * section (the pre-BTF convention used by samples/bpf, bcc-era loaders and
 * nimbpf). Each variable placed in SEC("maps") is one map; a loader reads the
 * fields below in order, at the symbol's offset in the section.
 *
 * libbpf >= 1.0 refuses such objects; tsbpf still loads them. The struct is
 * five 32-bit words (20 bytes). Loaders tolerate longer layouts with trailing
 * fields (some historic definitions add inner_map_idx and numa_node) by using
 * the section size divided by the number of map symbols.
 */
#ifndef TSBPF_LEGACY_MAP_DEF_H
#define TSBPF_LEGACY_MAP_DEF_H

struct bpf_map_def {
	unsigned int type;        /* enum bpf_map_type */
	unsigned int key_size;    /* bytes */
	unsigned int value_size;  /* bytes */
	unsigned int max_entries;
	unsigned int map_flags;   /* BPF_F_* */
};

#endif /* TSBPF_LEGACY_MAP_DEF_H */
