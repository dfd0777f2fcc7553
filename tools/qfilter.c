/* tools/qfilter.c — query filter, query-to-event step and response matching
 * shared by the offline ingest decoders (see tools/qfilter.h, docs/ingest.md).
 *
 * A query is parsed by the server's own answer builder (with no zone table),
 * or for the common shape by a short parse that gives the same result, and
 * its event filled by capture_event_fill(), so ingest and the live server
 * read the same bytes the same way.  Runs on the decoder's thread. */
#include <stdio.h>
#include <string.h>
#include "authd/answer.h"
#include "authd/capture.h"
#include "authd/dname.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/wire.h"
#include "tools/qfilter.h"

#define HDR_LEN 12
#define T_OPT 41
#define C_IN 1
#define C_ANY 255

struct qzone {
	uint8_t len;
	uint8_t name[DNAME_MAXLEN];
	uint64_t hash;
};

struct qfilter {
	struct bsc_addr *srv;
	size_t nsrv;
	struct qzone *zones;
	size_t nzones;
	uint32_t *zidx;  /* open addressing: zone index + 1, 0 = empty */
	size_t zmask;
	bool any_zone;   /* the root zone was given */
	bool match;
	uint64_t window;
};

int qfilter_new(struct qfilter **out)
{
	struct qfilter *f = mem_calloc(1, sizeof *f);
	*out = NULL;
	if (!f)
		return BSC_ENOMEM;
	f->match = true;
	f->window = QFILTER_WINDOW_NS;
	*out = f;
	return 0;
}

void qfilter_free(struct qfilter *f)
{
	if (!f)
		return;
	mem_free(f->srv);
	mem_free(f->zones);
	mem_free(f->zidx);
	mem_free(f);
}

int qfilter_add_server(struct qfilter *f, const char *addr)
{
	struct bsc_addr a;
	if (addr_parse(&a, addr, false) != 0)
		return BSC_EINVAL;
	struct bsc_addr *n = mem_realloc(f->srv, (f->nsrv + 1) * sizeof *n);
	if (!n)
		return BSC_ENOMEM;
	n[f->nsrv++] = a;
	f->srv = n;
	return 0;
}

/* Text name ("a.b.c", final dot optional, "." = root) to lower-case wire.
 * Returns the wire length or BSC_EINVAL. */
static int name_from_text(const char *s, uint8_t *out)
{
	size_t n = strlen(s);
	size_t pos = 0;
	if (n > 0 && s[n - 1] == '.')
		n--;
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '.')
			j++;
		size_t l = j - i;
		if (l == 0 || l > 63 || pos + 1 + l + 1 > DNAME_MAXLEN)
			return BSC_EINVAL;
		out[pos++] = (uint8_t)l;
		for (size_t k = 0; k < l; k++)
			out[pos++] = dname_lower_byte((uint8_t)s[i + k]);
		i = j + 1;
		if (j < n && i == n)
			return BSC_EINVAL; /* "a..": an empty last label */
	}
	out[pos++] = 0;
	return (int)pos;
}

static int zones_reindex(struct qfilter *f)
{
	size_t size = 8;
	while (size < f->nzones * 2)
		size *= 2;
	uint32_t *idx = mem_calloc(size, sizeof *idx);
	if (!idx)
		return BSC_ENOMEM;
	for (size_t i = 0; i < f->nzones; i++) {
		size_t h = (size_t)f->zones[i].hash & (size - 1);
		while (idx[h])
			h = (h + 1) & (size - 1);
		idx[h] = (uint32_t)i + 1;
	}
	mem_free(f->zidx);
	f->zidx = idx;
	f->zmask = size - 1;
	return 0;
}

int qfilter_add_zone(struct qfilter *f, const char *zone)
{
	struct qzone z;
	int len = name_from_text(zone, z.name);
	if (len < 0)
		return len;
	if (len == 1) {
		f->any_zone = true;
		return 0;
	}
	z.len = (uint8_t)len;
	z.hash = dname_hash(z.name, (size_t)len);
	for (size_t i = 0; i < f->nzones; i++) {
		if (f->zones[i].len == z.len && memcmp(f->zones[i].name, z.name, z.len) == 0)
			return 0;
	}
	struct qzone *n = mem_realloc(f->zones, (f->nzones + 1) * sizeof *n);
	if (!n)
		return BSC_ENOMEM;
	n[f->nzones++] = z;
	f->zones = n;
	return zones_reindex(f);
}

void qfilter_set_match(struct qfilter *f, bool on, uint64_t window_ns)
{
	f->match = on;
	f->window = window_ns ? window_ns : QFILTER_WINDOW_NS;
}

bool qfilter_match_server(const struct qfilter *f, const struct bsc_addr *dst)
{
	if (!f || f->nsrv == 0)
		return true;
	for (size_t i = 0; i < f->nsrv; i++) {
		if (addr_in_prefix(dst, &f->srv[i]))
			return true;
	}
	return false;
}

bool qfilter_match_zone(const struct qfilter *f, const uint8_t *lc, size_t len)
{
	if (!f || f->any_zone || f->nzones == 0)
		return true;
	size_t pos = 0;
	while (pos < len && lc[pos] != 0) {
		size_t sl = len - pos;
		uint64_t h = dname_hash(lc + pos, sl);
		for (size_t i = (size_t)h & f->zmask; f->zidx[i]; i = (i + 1) & f->zmask) {
			const struct qzone *z = &f->zones[f->zidx[i] - 1];
			if (z->hash == h && z->len == sl && memcmp(z->name, lc + pos, sl) == 0)
				return true;
		}
		pos += 1u + lc[pos];
	}
	return false;
}

/* Lower-case copy of the wire name @src (@n bytes) into @dst, a word at a
 * time (the byte-wise dname_lower() does the same, slower). */
static void lower_copy(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v = dname_lower64(dname_load64(src + i));
		memcpy(dst + i, &v, 8);
	}
	for (; i < n; i++)
		dst[i] = dname_lower_byte(src[i]);
}

size_t qfilter_qname(const uint8_t *wire, size_t len, uint8_t *lc)
{
	size_t pos = HDR_LEN;
	if (len <= HDR_LEN)
		return 0;
	for (;;) {
		if (pos >= len || pos - HDR_LEN >= DNAME_MAXLEN)
			return 0;
		uint8_t l = wire[pos];
		if (l == 0)
			break;
		if (l > 63)
			return 0;
		pos += 1u + l;
	}
	size_t n = pos + 1 - HDR_LEN;
	lower_copy(lc, wire + HDR_LEN, n);
	return n;
}

size_t qfilter_stats_format(const struct qfilter_stats *s, char *buf, size_t len, size_t pos)
{
	const struct {
		const char *name;
		uint64_t v;
		bool always;
	} f[] = {
		{ "queries", s->queries, true },
		{ "responses", s->responses, true },
		{ "events", s->events, true },
		{ "rcode known", s->rcode_known, false },
		{ "malformed", s->malformed, false },
		{ "other server", s->other_server, false },
		{ "other zone", s->other_zone, false },
		{ "formerr", s->formerr, false },
		{ "other class", s->other_class, false },
		{ "unmatched responses", s->unmatched, false },
	};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		if (!f[i].always && f[i].v == 0)
			continue;
		if (pos >= len)
			break;
		int n = snprintf(buf + pos, len - pos, "%s%s %llu", pos ? ", " : "", f[i].name,
				 (unsigned long long)f[i].v);
		if (n < 0)
			break;
		pos += (size_t)n;
	}
	if (pos >= len)
		pos = len ? len - 1 : 0;
	return pos;
}

/* ---- the queue ---- */

#define Q_MIN 1024u                    /* first ring size (a power of two) */
#define Q_MAX 16384u                   /* largest ring size: ~1.8 MB, cache-sized */
#define Q_SOFT (Q_MAX - QFILTER_PUSH_MAX) /* full: the caller pops first */

struct pend {
	struct query_event ev;
	uint64_t key;
	uint32_t next; /* chain: ring slot + 1; 0 ends it */
	uint16_t id;
	bool matched;
};

struct qfilter_queue {
	const struct qfilter *f;
	struct qfilter_stats *st;
	bool match;
	uint64_t window;
	uint64_t newest; /* latest time seen */
	uint64_t head;   /* ring positions, counted from the start */
	uint64_t tail;
	uint32_t size;   /* ring slots and chain heads, a power of two */
	struct pend *ring;
	uint32_t *bucket; /* chain heads (ring slot + 1), when matching */
	uint8_t *tx;     /* the answer builder's output: unused, but it needs room */
	uint8_t lc[DNAME_MAXLEN + 1];
};

int qfilter_queue_new(struct qfilter_queue **out, const struct qfilter *f,
		      struct qfilter_stats *st)
{
	int rc = BSC_ENOMEM;
	struct qfilter_queue *q = mem_calloc(1, sizeof *q);
	*out = NULL;
	if (!q)
		goto out;
	q->f = f;
	q->st = st;
	memset(st, 0, sizeof *st);
	q->match = f ? f->match : true;
	q->window = f ? f->window : QFILTER_WINDOW_NS;
	q->size = Q_MIN;
	q->ring = mem_calloc(q->size, sizeof *q->ring);
	q->tx = mem_alloc(ANSWER_BUF_MIN);
	if (!q->ring || !q->tx)
		goto out;
	if (q->match) {
		q->bucket = mem_calloc(q->size, sizeof *q->bucket);
		if (!q->bucket)
			goto out;
	}
	*out = q;
	q = NULL;
	rc = 0;
out:
	qfilter_queue_free(q);
	return rc;
}

void qfilter_queue_free(struct qfilter_queue *q)
{
	if (!q)
		return;
	mem_free(q->ring);
	mem_free(q->bucket);
	mem_free(q->tx);
	mem_free(q);
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xFF51AFD7ED558CCDull;
	x ^= x >> 33;
	x *= 0xC4CEB9FE1A85EC53ull;
	x ^= x >> 33;
	return x;
}

/* The matching key of a query: querier, port, transport, id, qname. */
static uint64_t match_key(const struct bsc_addr *client, uint16_t port, bool tcp, uint16_t id,
			  const uint8_t *lc, size_t len)
{
	uint64_t a, b;
	memcpy(&a, client->bytes, 8);
	memcpy(&b, client->bytes + 8, 8);
	uint64_t h = dname_hash(lc, len);
	h ^= a * 0x9E3779B97F4A7C15ull;
	h ^= b * 0xC2B2AE3D27D4EB4Full;
	h ^= (((uint64_t)client->family << 48) | ((uint64_t)port << 32) | ((uint64_t)id << 8) |
	      (tcp ? 1u : 0u)) *
	     0x165667B19E3779F9ull;
	return mix64(h);
}

static void to_sockaddr(struct bsc_sockaddr *sa, const struct bsc_addr *a, uint16_t port)
{
	memset(sa, 0, sizeof *sa);
	if (a->family == AF_INET6) {
		sa->u.in6.sin6_family = AF_INET6;
		sa->u.in6.sin6_port = htons(port);
		memcpy(&sa->u.in6.sin6_addr, a->bytes, 16);
		sa->len = sizeof sa->u.in6;
	} else {
		sa->u.in.sin_family = AF_INET;
		sa->u.in.sin_port = htons(port);
		memcpy(&sa->u.in.sin_addr, a->bytes, 4);
		sa->len = sizeof sa->u.in;
	}
}

/* Skip one owner name (pointers allowed: they end it). */
static bool skip_name(const uint8_t *w, size_t len, size_t *pos)
{
	size_t p = *pos;
	for (unsigned n = 0; n < 128; n++) {
		if (p >= len)
			return false;
		uint8_t l = w[p];
		if (l == 0) {
			*pos = p + 1;
			return true;
		}
		if ((l & 0xC0) == 0xC0) {
			if (len - p < 2)
				return false;
			*pos = p + 2;
			return true;
		}
		if (l > 63)
			return false;
		p += 1u + l;
	}
	return false;
}

/* The extended rcode of a response (header rcode plus the OPT's upper bits
 * when an OPT can be found); @qend is the end of its question. */
static unsigned response_rcode(const uint8_t *w, size_t len, size_t qend)
{
	unsigned rcode = w[3] & 0xFu;
	unsigned an = wire_get_u16(w + 6), ns = wire_get_u16(w + 8), ar = wire_get_u16(w + 10);
	size_t pos = qend;
	for (unsigned i = 0; i < an + ns + ar; i++) {
		if (!skip_name(w, len, &pos) || len - pos < 10)
			break;
		uint16_t type = wire_get_u16(w + pos);
		uint16_t rdlen = wire_get_u16(w + pos + 8);
		if (type == T_OPT && i >= an + ns)
			return rcode | ((unsigned)w[pos + 4] << 4);
		pos += 10;
		if (len - pos < rdlen)
			break;
		pos += rdlen;
	}
	return rcode;
}

static void push_response(struct qfilter_queue *q, const struct qfilter_msg *m)
{
	q->st->responses++;
	if (!q->match)
		return;
	const uint8_t *w = m->wire;
	size_t n = wire_get_u16(w + 4) == 1 ? qfilter_qname(w, m->len, q->lc) : 0;
	if (n == 0 || HDR_LEN + n + 4 > m->len) {
		q->st->unmatched++;
		return;
	}
	uint16_t id = wire_get_u16(w);
	uint64_t key = match_key(&m->dst, m->dport, m->tcp, id, q->lc, n);
	uint32_t best = 0;
	for (uint32_t s = q->bucket[key & (q->size - 1)]; s; s = q->ring[s - 1].next) {
		const struct pend *p = &q->ring[s - 1];
		if (!p->matched && p->key == key && p->id == id && p->ev.querier_port == m->dport &&
		    addr_cmp(&p->ev.querier, &m->dst) == 0)
			best = s; /* chains run newest first: the last one is the oldest */
	}
	if (!best) {
		q->st->unmatched++;
		return;
	}
	struct pend *p = &q->ring[best - 1];
	unsigned rcode = response_rcode(w, m->len, HDR_LEN + n + 4);
	p->ev.rcode = (uint8_t)(rcode > 255 ? 255 : rcode);
	p->ev.flags = (uint8_t)(p->ev.flags & ~EVENT_RCODE_UNKNOWN);
	p->matched = true;
	q->st->rcode_known++;
}

/* The answer builder's @info for a query of the common shape: one question
 * with an uncompressed qname, no answer or authority records, and after the
 * question either nothing or one OPT owned by the root without options.
 * For those the builder's parse has a single outcome: qname, qtype, qclass,
 * RD from the header, EDNS and DO from the OPT, nothing malformed (the
 * rcode is not used here).  False for any other query, which then goes
 * through answer_build() itself; tests/unit/tools/test_pcapdns.c compares
 * the two. */
static bool quick_info(const uint8_t *w, size_t len, struct answer_info *info)
{
	if (wire_get_u16(w + 4) != 1 || wire_get_u16(w + 6) || wire_get_u16(w + 8) ||
	    wire_get_u16(w + 10) > 1)
		return false;
	size_t pos = HDR_LEN;
	for (;;) {
		if (pos >= len || pos - HDR_LEN >= DNAME_MAXLEN)
			return false;
		uint8_t l = w[pos];
		if (l == 0)
			break;
		if (l > 63)
			return false;
		pos += 1u + l;
	}
	size_t qend = pos + 1 + 4;
	uint8_t flags = (w[2] & 0x01) ? EVENT_RD : 0;
	if (qend > len)
		return false;
	if (wire_get_u16(w + 10) == 0) {
		if (qend != len)
			return false;
	} else {
		/* owner, type, class, TTL (extended rcode, version, DO), rdlength */
		if (len - qend != 11 || w[qend] != 0 || wire_get_u16(w + qend + 1) != T_OPT ||
		    wire_get_u16(w + qend + 9) != 0)
			return false;
		flags |= EVENT_EDNS;
		if (w[qend + 7] & 0x80)
			flags |= EVENT_DO;
	}
	memset(info, 0, sizeof *info);
	info->qtype = wire_get_u16(w + qend - 4);
	info->qclass = wire_get_u16(w + qend - 2);
	info->qname_len = (uint16_t)(qend - 4 - HDR_LEN);
	info->flags = flags;
	return true;
}

/* Double the ring (and the chain heads), keeping the order and the chains
 * (newest first).  Returns 0 or BSC_ENOMEM (nothing changed). */
static int queue_grow(struct qfilter_queue *q)
{
	uint32_t size = q->size * 2;
	struct pend *ring = mem_calloc(size, sizeof *ring);
	uint32_t *bucket = q->match ? mem_calloc(size, sizeof *bucket) : NULL;
	if (!ring || (q->match && !bucket)) {
		mem_free(ring);
		mem_free(bucket);
		return BSC_ENOMEM;
	}
	for (uint64_t i = q->head; i != q->tail; i++) {
		struct pend *p = &ring[i & (size - 1)];
		*p = q->ring[i & (q->size - 1)];
		p->next = 0;
		if (q->match) {
			uint32_t *b = &bucket[p->key & (size - 1)];
			p->next = *b;
			*b = (uint32_t)(i & (size - 1)) + 1;
		}
	}
	mem_free(q->ring);
	mem_free(q->bucket);
	q->ring = ring;
	q->bucket = bucket;
	q->size = size;
	return 0;
}

int qfilter_queue_push(struct qfilter_queue *q, const struct qfilter_msg *m)
{
	if (m->time_ns > q->newest)
		q->newest = m->time_ns;
	if (m->len < HDR_LEN) {
		q->st->malformed++;
		return 0;
	}
	if (m->wire[2] & 0x80) {
		push_response(q, m);
		return 0;
	}
	q->st->queries++;
	if (!qfilter_match_server(q->f, &m->dst)) {
		q->st->other_server++;
		return 0;
	}
	struct answer_info info;
	if (!quick_info(m->wire, m->len, &info))
		answer_build(NULL, NULL, m->tcp ? ANSWER_TCP : ANSWER_UDP, m->wire, m->len,
			     q->tx, ANSWER_BUF_MIN, &info);
	if (info.qname_len == 0) {
		q->st->malformed++;
		return 0;
	}
	size_t n = info.qname_len;
	/* the lower-case qname: for the zone filter and the matching key */
	bool zones = q->f && !q->f->any_zone && q->f->nzones;
	if (zones || q->match)
		lower_copy(q->lc, m->wire + HDR_LEN, n);
	if (zones && !qfilter_match_zone(q->f, q->lc, n)) {
		q->st->other_zone++;
		return 0;
	}
	if (q->tail - q->head == q->size) {
		int rc = q->size < Q_MAX ? queue_grow(q) : BSC_ENOSPC;
		if (rc)
			return rc; /* ENOSPC: the caller broke QFILTER_PUSH_MAX's contract */
	}
	if (info.malformed)
		q->st->formerr++;
	if (info.qclass != C_IN && info.qclass != C_ANY)
		q->st->other_class++;

	uint32_t slot = (uint32_t)(q->tail & (q->size - 1));
	struct pend *p = &q->ring[slot];
	struct bsc_sockaddr sa;
	to_sockaddr(&sa, &m->src, m->sport);
	capture_event_fill(&p->ev, m->time_ns, &sa.u.sa, m->wire, m->len, &info, m->tcp);
	p->ev.rcode = 0;
	p->ev.flags = (uint8_t)(p->ev.flags | EVENT_RCODE_UNKNOWN);
	p->matched = false;
	p->id = wire_get_u16(m->wire);
	p->next = 0;
	if (q->match) {
		p->key = match_key(&m->src, m->sport, m->tcp, p->id, q->lc, n);
		uint32_t *b = &q->bucket[p->key & (q->size - 1)];
		p->next = *b;
		*b = slot + 1;
	}
	q->tail++;
	return 0;
}

bool qfilter_queue_full(const struct qfilter_queue *q)
{
	return q->tail - q->head >= Q_SOFT;
}

size_t qfilter_queue_count(const struct qfilter_queue *q)
{
	return (size_t)(q->tail - q->head);
}

int qfilter_queue_pop(struct qfilter_queue *q, struct query_event *ev, bool drain)
{
	if (q->head == q->tail)
		return 0;
	uint32_t slot = (uint32_t)(q->head & (q->size - 1));
	struct pend *p = &q->ring[slot];
	if (q->match && q->st->responses == 0 &&
	    (q->tail - q->head >= Q_SOFT || q->st->queries >= QFILTER_NO_RESPONSES))
		q->match = false; /* a full queue or many queries, not one response: none come */
	bool ready = drain || !q->match || p->matched || q->tail - q->head >= Q_SOFT ||
		     (q->newest > p->ev.time_ns && q->newest - p->ev.time_ns > q->window);
	if (!ready)
		return 0;
	*ev = p->ev;
	if (q->match) {
		uint32_t *link = &q->bucket[p->key & (q->size - 1)];
		while (*link && *link != slot + 1)
			link = &q->ring[*link - 1].next;
		if (*link)
			*link = p->next;
	}
	q->head++;
	q->st->events++;
	return 1;
}
