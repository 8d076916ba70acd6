// SPDX-License-Identifier: GPL-2.0
// build-bpf: --target=bpfeb
/*
 * typed_values_eb: the same initialised data as typed_values.bpf.c, compiled
 * for big-endian BPF, so the codec's big-endian layout (bitfields numbered
 * from the most significant bit) is checked against the compiler's. Never
 * loaded.
 */
#include <linux/types.h>
#include "typed_values.h"

struct rec rec_init = REC_INIT(5);
double ratio = 1.5;
float ratio_f = -0.25f;
enum big_enum big_value = BIG_HUGE;
void *some_ptr = (void *)0x1234;

char _license[] __attribute__((section("license"), used)) = "GPL";
