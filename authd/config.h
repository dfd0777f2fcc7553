/* authd/config.h — backscope-authd's configuration: the plain struct, its
 * schema ([server], repeated [zone]; later components append their sections),
 * the command-line flags and how they override the file.
 * Main thread only. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "common/conf.h"

#define AUTHD_MAX_LISTEN 16   /* listen addresses */
#define AUTHD_MAX_WORKERS 64
#define AUTHD_NSID_MAX 128    /* NSID payload bytes */

enum authd_log_target { AUTHD_LOG_STDERR, AUTHD_LOG_SYSLOG };

struct authd_zone_conf {
	char *origin; /* NULL or empty: from $ORIGIN/the SOA owner of the file */
	char *file;
};

/* [capture]: the store writer (authd/writer.h, docs/configuration.md). */
struct authd_capture_conf {
	bool enabled;            /* off: events are counted, nothing is stored */
	bool event_log;          /* write event-log segments */
	char *log_dir;           /* NULL or empty: DB/events */
	uint64_t segment_size;   /* bytes */
	uint64_t segment_age_ms;
	int log_sync;            /* enum evlog_sync */
	uint64_t bucket_ms;      /* whole seconds, checked */
	uint64_t bin_ms;
	uint64_t flush_interval_ms;
	uint64_t memory_cap;     /* bytes, both aggregation tables */
	uint64_t ring_size;      /* events per producer ring, a power of two */
	uint64_t map_size;       /* bytes */
	uint64_t map_max;        /* bytes */
	int sync;                /* enum store_sync */
};

struct authd_conf {
	/* [server] */
	struct conf_addrs listen;
	uint64_t workers;
	char *user;
	uint64_t udp_max_payload;
	char *nsid;
	char *version;
	char *identity;
	uint64_t tcp_max_clients;
	uint64_t tcp_idle_timeout_ms;
	uint64_t tcp_max_pipeline;
	bool check_zone_perms;
	int log_level;
	int log_target; /* enum authd_log_target */
	uint64_t stats_interval_ms;
	char *db;
	char *pidfile;
	/* [capture] */
	struct authd_capture_conf capture;
	/* [zone], repeated */
	struct authd_zone_conf *zones;
	size_t n_zones;
	/* Derived by authd_conf_check() (not in the schema). */
	uint8_t nsid_bin[AUTHD_NSID_MAX];
	size_t nsid_len;      /* 0: NSID off */
	const char *version_eff;  /* NULL: CH TXT version.bind answered REFUSED */
	const char *identity_eff; /* NULL: CH TXT id.server answered REFUSED */
};

/** The schema of authd's config file (terminated by a section with name
 *  NULL).  Static; any thread may read it. */
extern const struct conf_section authd_conf_schema[];

/** Command-line flags, as main parsed them.  Strings point into argv. */
struct authd_flags {
	const char *config;  /* -c FILE */
	bool check;          /* -n */
	bool help;           /* --help */
	bool help_config;    /* --help-config */
	bool version;        /* -V, --version */
	int log_level;       /* -d/-v/-q; -1: from the file */
	const char **listen; /* -l ADDR@PORT, in order; replaces the file's list */
	size_t n_listen;
	const char **zones;  /* -z [ORIGIN=]FILE, in order; replaces the file's zones */
	size_t n_zones;
	const char *db;      /* --db DIR */
	const char *workers; /* -w N, --workers N */
	const char *user;    /* --user USER */
	const char *pidfile; /* --pidfile FILE */
	int ready_fd;        /* --ready-fd N; -1: none */
};

/** Parse @argv into @f (getopt_long; resets getopt's state first).  Returns
 *  0, or BSC_EINVAL with @err naming the bad flag.  Release with
 *  authd_flags_free(). */
int authd_flags_parse(struct authd_flags *f, int argc, char **argv, char *err, size_t errlen);
void authd_flags_free(struct authd_flags *f);
/** The usage text of --help. */
void authd_flags_usage(FILE *out, const char *prog);

/** Split a -z argument "[ORIGIN=]FILE": text before the first '=' is the
 *  origin when it holds no '/' (so "dir/a=b.zone" stays a path).  Writes the
 *  origin (or "" for none) into @origin and points *file into @arg.  Returns 0
 *  or BSC_EINVAL (empty file or origin, origin too long). */
int authd_zone_arg_split(const char *arg, char *origin, size_t origin_len, const char **file);

/** Build the configuration: defaults, then the file of -c (if any), then the
 *  flags on top (-l replaces the listen list, -z the zones), then
 *  authd_conf_check().  On error returns BSC_ECONF/BSC_ENOENT/BSC_ENOMEM with
 *  @err naming the input ("file:line: reason" or "command line: …") and
 *  leaves @c freed.  On success release @c with authd_conf_free(). */
int authd_conf_build(struct authd_conf *c, const struct authd_flags *f, char *err,
		     size_t errlen);
/** Cross-key checks and derived fields (NSID bytes, effective version and
 *  identity).  Returns 0 or BSC_ECONF with @err filled. */
int authd_conf_check(struct authd_conf *c, char *err, size_t errlen);
void authd_conf_free(struct authd_conf *c);
