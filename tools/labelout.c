/* tools/labelout.c — darknet labels as JSON objects and table rows
 * (tools/labelout.h; schema in docs/cli.md "darknet label").
 *
 * Main thread (the CLI). */
#include <string.h>
#include "common/bucket.h"
#include "detector/fingerprint.h"
#include "tools/cli.h"
#include "tools/labelout.h"

/* ns of @s, saturated (a damaged label must not wrap around). */
static uint64_t labelout_ns(uint64_t s)
{
	return s > UINT64_MAX / NS_PER_S ? UINT64_MAX / NS_PER_S * NS_PER_S : s * NS_PER_S;
}

void labelout_from_record(struct store_label *l, const struct dk_record *r, uint64_t window_s)
{
	memset(l, 0, sizeof *l);
	l->source = r->source;
	l->cls = (uint8_t)r->cls;
	l->size = (uint8_t)r->size;
	l->protocol = (uint8_t)r->protocol;
	l->tool = (uint8_t)r->tool;
	l->service = (uint8_t)r->service;
	l->nports = r->nports < STORE_LABEL_PORTS ? r->nports : STORE_LABEL_PORTS;
	memcpy(l->ports, r->ports, l->nports * sizeof l->ports[0]);
	l->packets = r->packets;
	l->destinations = r->destinations;
	l->window_start_s = r->window_start_ns / NS_PER_S;
	l->window_len_s = (uint32_t)(window_s > UINT32_MAX ? UINT32_MAX : window_s);
}

json_object *labelout_json(const struct store_label *l)
{
	char t[CLI_TIME_LEN];
	json_object *o = json_object_new_object();
	json_object *ports = json_object_new_array();

	if (!o || !ports) {
		json_object_put(o);
		json_object_put(ports);
		return NULL;
	}
	cli_json_addr(o, "source", &l->source);
	cli_json_str(o, "window_start",
		     cli_time_format(labelout_ns(l->window_start_s), false, t, sizeof t));
	cli_json_str(o, "class", darknet_class_name((enum dk_class)l->cls));
	cli_json_str(o, "size", darknet_size_name((enum dk_size)l->size));
	cli_json_str(o, "protocol", darknet_proto_name((enum dk_proto)l->protocol));
	for (uint8_t k = 0; k < l->nports && k < STORE_LABEL_PORTS; k++)
		json_object_array_add(ports, json_object_new_int(l->ports[k]));
	json_object_object_add(o, "ports", ports);
	cli_json_u64(o, "packets", l->packets);
	cli_json_u64(o, "destinations", l->destinations);
	cli_json_str(o, "tool", fingerprint_tool_name((enum dk_tool)l->tool));
	cli_json_str(o, "service", darknet_service_name((enum dk_service)l->service));
	return o;
}

json_object *labelout_json_array(const struct store_label *l, size_t n)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; arr && i < n; i++) {
		json_object *o = labelout_json(&l[i]);
		if (!o) {
			json_object_put(arr);
			return NULL;
		}
		json_object_array_add(arr, o);
	}
	return arr;
}

char *labelout_ports(const struct store_label *l, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (uint8_t k = 0; k < l->nports && k < STORE_LABEL_PORTS && pos < len; k++)
		pos += (size_t)snprintf(buf + pos, len - pos, "%s%u", k ? "," : "", l->ports[k]);
	if (!pos)
		snprintf(buf, len, "-");
	return buf;
}

void labelout_table(FILE *out, const struct store_label *l, size_t n, const char *empty)
{
	static const char *const hdr[] = { "source", "window start", "class", "size",
					   "protocol", "ports", "packets", "destinations",
					   "tool", "service" };
	static const enum cli_align align[] = { CLI_LEFT, CLI_LEFT, CLI_LEFT, CLI_LEFT,
						CLI_LEFT, CLI_LEFT, CLI_RIGHT, CLI_RIGHT,
						CLI_LEFT, CLI_LEFT };
	char a[ADDR_STRLEN], t[CLI_TIME_LEN], ports[64];
	struct cli_table *tb;

	if (!n) {
		fprintf(out, "%s\n", empty);
		return;
	}
	if (!(tb = cli_table_new(10, hdr, align)))
		return;
	for (size_t i = 0; i < n; i++) {
		const struct store_label *r = &l[i];
		const char *sz = darknet_size_name((enum dk_size)r->size);
		const char *tool = fingerprint_tool_name((enum dk_tool)r->tool);
		const char *svc = darknet_service_name((enum dk_service)r->service);
		cli_table_add(tb, cli_addr_format(&r->source, a, sizeof a));
		cli_table_add(tb, cli_time_format(labelout_ns(r->window_start_s), false, t,
						  sizeof t));
		cli_table_add(tb, darknet_class_name((enum dk_class)r->cls));
		cli_table_add(tb, sz ? sz : "-");
		cli_table_add(tb, darknet_proto_name((enum dk_proto)r->protocol));
		cli_table_add(tb, labelout_ports(r, ports, sizeof ports));
		cli_table_add_u64(tb, r->packets);
		cli_table_add_u64(tb, r->destinations);
		cli_table_add(tb, tool ? tool : "-");
		cli_table_add(tb, svc ? svc : "-");
	}
	cli_table_print(tb, out);
	cli_table_free(tb);
}
