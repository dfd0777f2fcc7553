/* tools/main.c — `backscope`, the operator's and analyst's CLI: parse the
 * global options, then dispatch to the command (tools/cmd_*.c).  Exit codes:
 * 0 ok, 1 error (bad input or data), 2 usage error.  Main thread only. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "common/log.h"
#include "common/version.h"
#include "tools/cmds.h"

static const struct cli_command *const commands[] = {
	&cmd_status,
	&cmd_top,
	&cmd_originator,
	&cmd_ingest,
	&cmd_darknet,
	&cmd_crosscheck,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
	fprintf(out, "usage: backscope [--db DIR] [-c FILE] [--no-progress] [-v|-q] COMMAND [ARGS]\n"
		     "\n"
		     "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-11s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(out, "  %-11s %s\n", "help", "this text, or the help of one command");
	fprintf(out, "\n"
		     "global options:\n"
		     "  --db DIR       the store folder (default: the db key of -c FILE's\n"
		     "                 [server] section, else " CLI_DB_DEFAULT ")\n"
		     "  -c FILE        the configuration file (backscope-authd's)\n"
		     "  --no-progress  no progress line, even on a terminal\n"
		     "  -v, -q         more (debug) or fewer (errors only) log messages\n"
		     "  -V, --version  print the version\n"
		     "\n"
		     "Exit status: 0 ok, 1 error (bad input or data), 2 usage error.\n"
		     "'backscope help COMMAND' describes a command; docs/cli.md has them all.\n");
}

static const struct cli_command *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static int help(const struct cli_global *g, int argc, char **argv)
{
	if (argc < 2) {
		usage(g->out);
		return CLI_EXIT_OK;
	}
	const struct cli_command *c = find(argv[1]);
	if (!c) {
		fprintf(g->err, "backscope help: no command '%s'\n", argv[1]);
		usage(g->err);
		return CLI_EXIT_USAGE;
	}
	return cmd_print_help(g, c);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "config", required_argument, NULL, 'c' },
		{ "no-progress", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_global g = { .out = stdout, .err = stderr };
	int level = LOG_WARNING, opt, rc;

	g.progress = isatty(STDERR_FILENO);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:c:hvqV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'D':
			g.db = optarg;
			break;
		case 'c':
			g.config = optarg;
			break;
		case 'P':
			g.progress = false;
			break;
		case 'v':
			level = LOG_DEBUG;
			break;
		case 'q':
			level = LOG_ERR;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			printf("%s %s\n", BSC_PRODUCT, BSC_VERSION);
			return CLI_EXIT_OK;
		default:
			if (opt == ':')
				fprintf(stderr, "backscope: option %s needs a value\n", argv[optind - 1]);
			else
				fprintf(stderr, "backscope: unknown option %s\n", argv[optind - 1]);
			fprintf(stderr, "(see 'backscope help')\n");
			return CLI_EXIT_USAGE;
		}
	}
	log_init(LOG_TARGET_STDERR, level, "backscope");
	if (optind >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	const char *name = argv[optind];
	if (strcmp(name, "help") == 0) {
		rc = help(&g, argc - optind, argv + optind);
	} else {
		const struct cli_command *c = find(name);
		if (!c) {
			fprintf(stderr, "backscope: no command '%s' (see 'backscope help')\n", name);
			return CLI_EXIT_USAGE;
		}
		rc = c->run(&g, argc - optind, argv + optind);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "backscope: writing the output failed\n");
		if (rc == CLI_EXIT_OK)
			rc = CLI_EXIT_ERR;
	}
	return rc;
}
