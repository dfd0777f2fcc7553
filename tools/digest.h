/* tools/digest.h — SHA-256 for the ingest fingerprints of input files, on
 * Debian's nettle.  No allocation; a context belongs to one thread. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <nettle/sha2.h>

#define DIGEST_LEN SHA256_DIGEST_SIZE

struct digest {
	struct sha256_ctx ctx;
};

void digest_init(struct digest *d);
void digest_update(struct digest *d, const void *data, size_t len);
void digest_final(struct digest *d, uint8_t out[DIGEST_LEN]);
/** Lower-case hex of @len bytes into @hex (2 * len + 1 bytes). */
void digest_hex(const uint8_t *bytes, size_t len, char *hex);
