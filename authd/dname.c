/* authd/dname.c — wire-format domain name helpers (see dname.h).
 *
 * Pure functions; any thread. */
#include <stdio.h>
#include "authd/dname.h"

size_t dname_wire_check(const uint8_t *p, size_t max)
{
	size_t pos = 0;
	for (;;) {
		if (pos >= max || pos >= DNAME_MAXLEN)
			return 0;
		uint8_t l = p[pos];
		if (l == 0)
			return pos + 1;
		if (l > 63)
			return 0;
		pos += 1u + l;
	}
}

unsigned dname_labels(const uint8_t *name, uint8_t *off)
{
	unsigned n = 0;
	size_t pos = 0;
	for (;;) {
		off[n++] = (uint8_t)pos;
		if (name[pos] == 0 || n >= DNAME_MAXLABELS)
			return n;
		pos += 1u + name[pos];
	}
}

unsigned dname_label_count(const uint8_t *name)
{
	unsigned n = 0;
	size_t pos = 0;
	while (name[pos] != 0 && pos < DNAME_MAXLEN) {
		pos += 1u + name[pos];
		n++;
	}
	return n;
}

bool dname_is_under(const uint8_t *name, size_t len, const uint8_t *suffix, size_t slen)
{
	if (slen > len)
		return false;
	size_t pos = 0;
	while (len - pos > slen) {
		if (name[pos] == 0)
			return false;
		pos += 1u + name[pos];
	}
	return len - pos == slen && memcmp(name + pos, suffix, slen) == 0;
}

char *dname_to_text(const uint8_t *name, char *buf, size_t size)
{
	size_t o = 0;
	size_t pos = 0;
	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (name[0] == 0) {
		snprintf(buf, size, ".");
		return buf;
	}
	while (name[pos] != 0 && pos < DNAME_MAXLEN) {
		uint8_t l = name[pos++];
		for (uint8_t i = 0; i < l; i++) {
			uint8_t c = name[pos++];
			char tmp[8];
			if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' ||
			    c == '$' || c == '@')
				snprintf(tmp, sizeof tmp, "\\%c", c);
			else if (c <= 0x20 || c >= 0x7f)
				snprintf(tmp, sizeof tmp, "\\%03u", c);
			else
				snprintf(tmp, sizeof tmp, "%c", c);
			size_t tl = strlen(tmp);
			if (o + tl + 2 > size)
				return buf;
			memcpy(buf + o, tmp, tl);
			o += tl;
		}
		buf[o++] = '.';
		buf[o] = '\0';
	}
	return buf;
}
