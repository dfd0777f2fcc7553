/* tests/unit/common/test_wire.c — the sticky-error byte cursor: big-endian
 * reads and writes, bounds, and that the first error sticks; the raw-pointer
 * big-endian loads and stores against hand-written bytes, at odd offsets.
 * Single-threaded cmocka program. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "common/wire.h"

static void test_wire_read_big_endian(void **state)
{
	(void)state;
	uint8_t buf[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a };
	struct wire w = wire_init(buf, sizeof buf);

	assert_int_equal(wire_avail(&w), 10);
	assert_int_equal(wire_read_u8(&w), 0x01);
	assert_int_equal(wire_read_u16(&w), 0x0203);
	assert_int_equal(wire_read_u32(&w), 0x04050607);
	uint8_t out[3];
	wire_read(&w, out, 3);
	assert_memory_equal(out, buf + 7, 3);
	assert_int_equal(w.pos, 10);
	assert_int_equal(wire_avail(&w), 0);
	assert_false(w.error);
}

static void test_wire_read_u32_high_bit(void **state)
{
	(void)state;
	uint8_t buf[] = { 0xff, 0xfe, 0xfd, 0xfc, 0x80, 0x00 };
	struct wire w = wire_init(buf, sizeof buf);

	assert_int_equal(wire_read_u32(&w), 0xfffefdfcu);
	assert_int_equal(wire_read_u16(&w), 0x8000);
	assert_false(w.error);
}

static void test_wire_read_past_end_sticks(void **state)
{
	(void)state;
	uint8_t buf[] = { 0xaa, 0xbb, 0xcc };
	struct wire w = wire_init(buf, sizeof buf);

	assert_int_equal(wire_read_u16(&w), 0xaabb);
	/* Needs 2, has 1: fails, returns 0, position unchanged. */
	assert_int_equal(wire_read_u16(&w), 0);
	assert_true(w.error);
	assert_int_equal(w.pos, 2);
	assert_int_equal(wire_avail(&w), 0);
	/* Even a read that would fit now does nothing. */
	assert_int_equal(wire_read_u8(&w), 0);
	assert_int_equal(w.pos, 2);
	uint8_t out[1] = { 0x11 };
	wire_read(&w, out, 1);
	assert_int_equal(out[0], 0x11);
	wire_skip(&w, 0);
	assert_int_equal(w.pos, 2);
	assert_true(w.error);
}

static void test_wire_read_each_size_at_bound(void **state)
{
	(void)state;
	uint8_t buf[4] = { 1, 2, 3, 4 };

	for (size_t size = 0; size <= 4; size++) {
		struct wire w = wire_init(buf, size);
		(void)wire_read_u32(&w);
		assert_int_equal(w.error, size < 4);
		w = wire_init(buf, size);
		(void)wire_read_u16(&w);
		assert_int_equal(w.error, size < 2);
		w = wire_init(buf, size);
		(void)wire_read_u8(&w);
		assert_int_equal(w.error, size < 1);
		w = wire_init(buf, size);
		uint8_t out[4];
		wire_read(&w, out, 3);
		assert_int_equal(w.error, size < 3);
		w = wire_init(buf, size);
		wire_skip(&w, size);
		assert_false(w.error);
		assert_int_equal(wire_avail(&w), 0);
		wire_skip(&w, 1);
		assert_true(w.error);
	}
}

static void test_wire_skip_huge_no_overflow(void **state)
{
	(void)state;
	uint8_t buf[8] = { 0 };
	struct wire w = wire_init(buf, sizeof buf);

	wire_skip(&w, 3);
	wire_skip(&w, SIZE_MAX);
	assert_true(w.error);
	assert_int_equal(w.pos, 3);
	w = wire_init(buf, sizeof buf);
	wire_skip(&w, SIZE_MAX - 2);
	assert_true(w.error);
	assert_int_equal(w.pos, 0);
}

static void test_wire_write_big_endian(void **state)
{
	(void)state;
	uint8_t buf[16];
	struct wire w = wire_init(buf, sizeof buf);

	memset(buf, 0, sizeof buf);
	wire_write_u8(&w, 0x01);
	wire_write_u16(&w, 0x0203);
	wire_write_u32(&w, 0x04050607);
	wire_write(&w, "\x08\x09", 2);
	assert_false(w.error);
	assert_int_equal(w.pos, 9);
	static const uint8_t want[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	assert_memory_equal(buf, want, sizeof want);
	assert_int_equal(wire_avail(&w), 7);
}

static void test_wire_write_past_end_sticks(void **state)
{
	(void)state;
	uint8_t buf[5];
	struct wire w = wire_init(buf, 3);

	memset(buf, 0xee, sizeof buf);
	wire_write_u16(&w, 0x1122);
	wire_write_u16(&w, 0x3344); /* does not fit: nothing written */
	assert_true(w.error);
	assert_int_equal(w.pos, 2);
	assert_int_equal(buf[2], 0xee);
	wire_write_u8(&w, 0x55); /* would fit, but the error sticks */
	assert_int_equal(buf[2], 0xee);
	wire_write_u32(&w, 0x66778899);
	wire_write(&w, "x", 1);
	assert_int_equal(w.pos, 2);
	assert_int_equal(buf[3], 0xee);
	assert_int_equal(buf[4], 0xee);
	assert_int_equal(wire_avail(&w), 0);
}

static void test_wire_write_u32_at_bound(void **state)
{
	(void)state;
	uint8_t buf[4];

	for (size_t size = 0; size <= 4; size++) {
		struct wire w = wire_init(buf, size);
		wire_write_u32(&w, 0xdeadbeef);
		assert_int_equal(w.error, size < 4);
		assert_int_equal(w.pos, size < 4 ? 0 : 4);
	}
	assert_int_equal(buf[0], 0xde);
	assert_int_equal(buf[3], 0xef);
}

static void test_wire_zero_length_ops(void **state)
{
	(void)state;
	uint8_t buf[1] = { 0x42 }, out[1] = { 0 };
	struct wire w = wire_init(buf, 0);

	assert_int_equal(wire_avail(&w), 0);
	wire_read(&w, out, 0);
	wire_write(&w, out, 0);
	wire_skip(&w, 0);
	assert_int_equal(w.pos, 0);
	assert_false(w.error);
	assert_int_equal(wire_read_u8(&w), 0);
	assert_true(w.error);
}

static void test_wire_get_put_u16(void **state)
{
	(void)state;
	uint8_t b[2];

	wire_put_u16(b, 0xabcd);
	assert_int_equal(b[0], 0xab);
	assert_int_equal(b[1], 0xcd);
	assert_int_equal(wire_get_u16(b), 0xabcd);
	wire_put_u16(b, 0);
	assert_int_equal(wire_get_u16(b), 0);
}

static void test_wire_get_put_u32(void **state)
{
	(void)state;
	static const uint8_t want[] = { 0xde, 0xad, 0xbe, 0xef };
	uint8_t b[6];

	memset(b, 0x5a, sizeof b);
	wire_put_u32(b + 1, 0xdeadbeefu); /* odd offset: no alignment needed */
	assert_memory_equal(b + 1, want, sizeof want);
	assert_int_equal(b[0], 0x5a); /* neighbours untouched */
	assert_int_equal(b[5], 0x5a);
	assert_int_equal(wire_get_u32(want), 0xdeadbeefu);
	assert_int_equal(wire_get_u32(b + 1), 0xdeadbeefu);
	wire_put_u32(b, 0x01020304u);
	static const uint8_t small[] = { 0x01, 0x02, 0x03, 0x04 };
	assert_memory_equal(b, small, sizeof small);
	wire_put_u32(b, 0);
	assert_int_equal(wire_get_u32(b), 0);
	wire_put_u32(b, UINT32_MAX);
	assert_int_equal(wire_get_u32(b), UINT32_MAX);
	assert_int_equal(b[0], 0xff);
	assert_int_equal(b[3], 0xff);
}

static void test_wire_get_put_u64(void **state)
{
	(void)state;
	static const uint8_t want[] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	static const uint8_t high[] = { 0x80, 0, 0, 0, 0, 0, 0, 0x01 };
	uint8_t b[11];

	memset(b, 0x5a, sizeof b);
	wire_put_u64(b + 3, 0x0123456789abcdefull);
	assert_memory_equal(b + 3, want, sizeof want);
	assert_int_equal(b[2], 0x5a);
	assert_int_equal(b[0], 0x5a);
	assert_int_equal(wire_get_u64(want), 0x0123456789abcdefull);
	assert_int_equal(wire_get_u64(b + 3), 0x0123456789abcdefull);
	/* top bit and bottom bit: no sign extension, no lost low byte */
	assert_int_equal(wire_get_u64(high), 0x8000000000000001ull);
	wire_put_u64(b, 0x8000000000000001ull);
	assert_memory_equal(b, high, sizeof high);
	wire_put_u64(b, 0);
	assert_int_equal(wire_get_u64(b), 0);
	wire_put_u64(b, UINT64_MAX);
	assert_int_equal(wire_get_u64(b), UINT64_MAX);
}

/* A stored key as the store writes it: u64 bucket start then a u32, read back
 * the same, and byte-wise comparison orders keys like the numbers. */
static void test_wire_key_layout_and_order(void **state)
{
	(void)state;
	static const uint8_t want[] = { 0x00, 0x00, 0x00, 0x00, 0x65, 0x4f, 0x5e, 0xb0,
					0xc0, 0x00, 0x02, 0x01 };
	uint8_t k[12], k2[12];

	wire_put_u64(k, 1699700400ull);
	wire_put_u32(k + 8, 0xc0000201u); /* 192.0.2.1 */
	assert_memory_equal(k, want, sizeof want);
	assert_int_equal(wire_get_u64(k), 1699700400ull);
	assert_int_equal(wire_get_u32(k + 8), 0xc0000201u);

	wire_put_u64(k2, 1699700400ull + 3600);
	wire_put_u32(k2 + 8, 0);
	assert_true(memcmp(k, k2, sizeof k) < 0);
	wire_put_u64(k2, 1699700400ull);
	wire_put_u32(k2 + 8, 0xc0000200u);
	assert_true(memcmp(k2, k, sizeof k) < 0);
}

/* Round trips over values that stress every byte lane, from a fixed-seed
 * generator, plus a put/get of each width at every offset of a buffer. */
static void test_wire_round_trips(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t b[16];

	for (int i = 0; i < 4096; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t off = (size_t)i % 9;
		wire_put_u64(b + off, x);
		assert_int_equal(wire_get_u64(b + off), x);
		for (int j = 0; j < 8; j++)
			assert_int_equal(b[off + (size_t)j], (uint8_t)(x >> (56 - 8 * j)));
		wire_put_u32(b + off, (uint32_t)x);
		assert_int_equal(wire_get_u32(b + off), (uint32_t)x);
		uint32_t y = (uint32_t)x;
		for (int j = 0; j < 4; j++)
			assert_int_equal(b[off + (size_t)j], (uint8_t)(y >> (24 - 8 * j)));
		wire_put_u16(b + off, (uint16_t)x);
		assert_int_equal(wire_get_u16(b + off), (uint16_t)x);
	}
	/* one per bit: a single 1 bit lands in the right byte and bit */
	for (unsigned bit = 0; bit < 64; bit++) {
		memset(b, 0, sizeof b);
		wire_put_u64(b, 1ull << bit);
		for (unsigned j = 0; j < 8; j++)
			assert_int_equal(b[j], j == 7 - bit / 8 ? 1u << (bit % 8) : 0);
		assert_int_equal(wire_get_u64(b), 1ull << bit);
	}
	/* the cursor writers and the raw readers agree */
	struct wire w = wire_init(b, sizeof b);
	wire_write_u32(&w, 0xa1b2c3d4u);
	wire_write_u16(&w, 0xe5f6);
	assert_false(w.error);
	assert_int_equal(wire_get_u32(b), 0xa1b2c3d4u);
	assert_int_equal(wire_get_u16(b + 4), 0xe5f6);
	wire_put_u32(b + 6, 0x0a0b0c0du);
	w = wire_init(b, sizeof b);
	wire_skip(&w, 6);
	assert_int_equal(wire_read_u32(&w), 0x0a0b0c0du);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_read_big_endian),
		cmocka_unit_test(test_wire_read_u32_high_bit),
		cmocka_unit_test(test_wire_read_past_end_sticks),
		cmocka_unit_test(test_wire_read_each_size_at_bound),
		cmocka_unit_test(test_wire_skip_huge_no_overflow),
		cmocka_unit_test(test_wire_write_big_endian),
		cmocka_unit_test(test_wire_write_past_end_sticks),
		cmocka_unit_test(test_wire_write_u32_at_bound),
		cmocka_unit_test(test_wire_zero_length_ops),
		cmocka_unit_test(test_wire_get_put_u16),
		cmocka_unit_test(test_wire_get_put_u32),
		cmocka_unit_test(test_wire_get_put_u64),
		cmocka_unit_test(test_wire_key_layout_and_order),
		cmocka_unit_test(test_wire_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
