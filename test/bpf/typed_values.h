/*
 * Types shared by typed_values.bpf.c (little-endian, loaded by the kernel
 * tests) and typed_values_eb.bpf.c (big-endian, layout only): every shape the
 * codec maps, with bitfields that straddle bytes, padding, anonymous members
 * and a union.
 */
#ifndef TYPED_VALUES_H
#define TYPED_VALUES_H

enum color { RED = 1, GREEN = 2, BLUE = -3 };

enum big_enum { BIG_ZERO = 0, BIG_HUGE = 0x123456789aULL };

struct flags {
	unsigned int a : 3;
	signed int b : 5;
	unsigned long long wide : 40;
	enum color col : 4;
	_Bool on : 1;
	unsigned short c : 9;
	signed long long d : 33;
};

struct inner {
	__u16 port;
	char name[6];
};

struct rec {
	__u8 tag;			/* 7 bytes of padding follow */
	__u64 big;
	struct inner in;
	union {
		__u32 as_u32;
		__u8 bytes[4];
	};
	struct {
		__s16 x, y;
	};
	struct flags f;
	__u32 arr[3];
	enum color color;
	char label[8];
	__s8 small[3];
	char names[2][4];
	struct inner pair[2];
};

struct key {
	__u32 tgid;
	__u32 cookie;
};

/* A value whose every field the tests know: n is a small counter. */
#define REC_INIT(n) {						\
	.tag = (n) & 0xff,					\
	.big = 0x1122334455667788ULL + (n),			\
	.in = { .port = 8080, .name = "tsbpf" },		\
	.as_u32 = 0xdeadbeef,					\
	.x = -5, .y = 7,					\
	.f = { .a = (n) & 7, .b = -(int)((n) % 16), .wide = 0xabcdef0123ULL, \
	       .col = BLUE, .on = 1, .c = 300, .d = -4294967296LL }, \
	.arr = { (n), (n) * 2, (n) * 3 },			\
	.color = GREEN,						\
	.label = "hello",					\
	.small = { -1, -2, -3 },				\
	.names = { "ab", "cde" },				\
	.pair = { { .port = 1, .name = "one" }, { .port = 2, .name = "two" } }, \
}

#endif
