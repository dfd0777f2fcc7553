/* tests/fuzz/fuzz_query.c — any bytes as a query: answer_build() against the
 * fixture zones of tests/data/zones (loaded once), over UDP and TCP.  Checks
 * the answer length against the transport's limit, the echoed ID and the
 * echoed question.
 *
 * Single-threaded (libFuzzer or replay_main.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "authd/answer.h"
#include "authd/zone.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct zone_table *zt;
static uint8_t tx[65536];

static void load_once(void)
{
	if (zt)
		return;
	struct zone_source src[] = {
		{ NULL, BSC_TEST_DATA "/zones/10.in-addr.arpa.zone" },
		{ NULL, BSC_TEST_DATA "/zones/30.10.in-addr.arpa.zone" },
		{ NULL, BSC_TEST_DATA "/zones/8.b.d.0.1.0.0.2.ip6.arpa.zone" },
		{ NULL, BSC_TEST_DATA "/zones/40.in-addr.arpa.zone" },
	};
	char err[512];
	log_set_level(LOG_ERR);
	if (zone_table_load(&zt, src, 4, NULL, err, sizeof err) != 0) {
		fprintf(stderr, "fuzz_query: cannot load the fixture zones: %s\n", err);
		abort();
	}
}

static void check(const uint8_t *q, size_t qlen, enum answer_transport tr,
		  const struct answer_conf *ac)
{
	struct answer_info info;
	size_t n = answer_build(zt, ac, tr, q, qlen, tx, sizeof tx, &info);
	size_t limit = tr == ANSWER_TCP ? 65535 : ac->udp_max;
	if (n > limit || n > sizeof tx)
		abort();
	if (n == 0)
		return;
	if (n < 12 || memcmp(tx, q, 2) != 0 || !(tx[2] & 0x80))
		abort();
	/* with QDCOUNT 1, the question is the query's, byte for byte */
	if (tx[4] == 0 && tx[5] == 1) {
		size_t qend = 12 + info.qname_len + 4;
		if (qend > qlen || qend > n || memcmp(tx + 12, q + 12, qend - 12) != 0)
			abort();
	}
	if (info.truncated != ((tx[2] & 0x02) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t nsid[] = "fuzz";
	struct answer_conf ac = {
		.udp_max = 1232, .nsid = nsid, .nsid_len = 4, .version = "v", .identity = "id",
	};
	load_once();
	check(data, size, ANSWER_UDP, &ac);
	check(data, size, ANSWER_TCP, &ac);
	ac.udp_max = 4096;
	ac.nsid = NULL;
	check(data, size, ANSWER_UDP, &ac);
	return 0;
}
