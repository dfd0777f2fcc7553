/* authd/main.c — backscope-authd: parse flags, build the configuration, then
 * check it (-n) or serve until SIGTERM.  Exit 0 on a clean shutdown, 1 on any
 * start-up error.  Main thread. */
#include <stdio.h>
#include <string.h>
#include "authd/config.h"
#include "authd/server.h"
#include "authd/version.h"
#include "common/err.h"
#include "common/log.h"

int main(int argc, char **argv)
{
	struct authd_flags flags;
	struct authd_conf conf;
	char err[1024];
	int rc;

	log_init(LOG_TARGET_STDERR, LOG_INFO, "backscope-authd");
	rc = authd_flags_parse(&flags, argc, argv, err, sizeof err);
	if (rc) {
		fprintf(stderr, "backscope-authd: %s\n", err);
		fprintf(stderr, "Try 'backscope-authd --help'.\n");
		return 1;
	}
	if (flags.help) {
		authd_flags_usage(stdout, "backscope-authd");
		authd_flags_free(&flags);
		return 0;
	}
	if (flags.version) {
		printf("backscope-authd %s\n", authd_version());
		authd_flags_free(&flags);
		return 0;
	}
	if (flags.help_config) {
		conf_print_help(authd_conf_schema, stdout);
		authd_flags_free(&flags);
		return 0;
	}
	if (flags.log_level >= 0)
		log_set_level(flags.log_level);
	rc = authd_conf_build(&conf, &flags, err, sizeof err);
	if (rc) {
		log_error("config: %s", err);
		authd_flags_free(&flags);
		return 1;
	}
	log_init(conf.log_target == AUTHD_LOG_SYSLOG ? LOG_TARGET_SYSLOG : LOG_TARGET_STDERR,
		 conf.log_level, "backscope-authd");
	if (flags.check)
		rc = authd_check(&conf);
	else
		rc = authd_run(&conf, &flags);
	if (flags.check && rc == 0)
		printf("configuration and %zu zone(s) OK\n", conf.n_zones);
	authd_conf_free(&conf);
	authd_flags_free(&flags);
	return rc ? 1 : 0;
}
