/* tests/fuzz/fuzz_agg.c — stored-record and key decoders on arbitrary bytes.
 *
 * The first byte picks the decoder (orig value, origq value, bucket counters,
 * orig key, origq key); the rest is the stored bytes.  Decoding must return
 * 0 or BSC_EMALF, never crash, and a value that decodes must encode back to
 * the same bytes (one canonical form). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/agg.h"
#include "common/err.h"
#include "common/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BUCKET_S 1794999600ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *b = data + 1;
	size_t n = size - 1;
	uint8_t out[64];
	int rc;

	switch (data[0] % 5) {
	case 0: {
		struct agg_orig_rec r;
		rc = agg_orig_decode(b, n, &r);
		if (rc == 0 && (agg_orig_encode(&r, out) != n || memcmp(out, b, n) != 0))
			abort();
		break;
	}
	case 1: {
		struct agg_origq_rec r;
		rc = agg_origq_decode(b, n, BUCKET_S, &r);
		if (rc == 0 && (agg_origq_encode(&r, BUCKET_S, out) != n || memcmp(out, b, n) != 0))
			abort();
		break;
	}
	case 2: {
		struct agg_bucket_rec r;
		rc = agg_bucket_decode(b, n, &r);
		if (rc == 0 && (agg_bucket_encode(&r, out) != n || memcmp(out, b, n) != 0))
			abort();
		break;
	}
	case 3: {
		uint64_t bk;
		struct bsc_addr o;
		rc = store_key_parse_orig(b, n, &bk, &o);
		if (rc == 0 && (store_key_orig(out, bk, &o) != n || memcmp(out, b, n) != 0))
			abort();
		break;
	}
	default: {
		uint64_t bk;
		struct bsc_addr o, q;
		rc = store_key_parse_origq(b, n, &bk, &o, &q);
		if (rc == 0 && (store_key_origq(out, bk, &o, &q) != n || memcmp(out, b, n) != 0))
			abort();
		break;
	}
	}
	if (rc != 0 && rc != BSC_EMALF)
		abort();
	return 0;
}
