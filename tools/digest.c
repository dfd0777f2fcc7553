/* tools/digest.c — SHA-256 through nettle.  Any thread, own context. */
#include "tools/digest.h"

void digest_init(struct digest *d)
{
	sha256_init(&d->ctx);
}

void digest_update(struct digest *d, const void *data, size_t len)
{
	sha256_update(&d->ctx, len, data);
}

void digest_final(struct digest *d, uint8_t out[DIGEST_LEN])
{
	sha256_digest(&d->ctx, DIGEST_LEN, out);
}

void digest_hex(const uint8_t *bytes, size_t len, char *hex)
{
	static const char x[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		hex[2 * i] = x[bytes[i] >> 4];
		hex[2 * i + 1] = x[bytes[i] & 15];
	}
	hex[2 * len] = '\0';
}
