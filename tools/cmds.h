/* tools/cmds.h — the commands of the `backscope` CLI, each in its own
 * tools/cmd_*.c; main.c dispatches to them by name.
 *
 * Main thread only.  Each run function gets argv with the command name in
 * argv[0], parses its own options (getopt_long, options may follow the
 * operands), writes results to g->out and messages to g->err, and returns an
 * exit code (CLI_EXIT_*). */
#pragma once
#include "tools/cli.h"

extern const struct cli_command cmd_status;
extern const struct cli_command cmd_top;
extern const struct cli_command cmd_originator;
extern const struct cli_command cmd_ingest;
extern const struct cli_command cmd_darknet;
extern const struct cli_command cmd_crosscheck;

/** Options every command takes besides its own (the global ones, repeated
 *  after the command name override those before it). */
#define CMD_COMMON_LONGOPTS                                                                        \
	{ "db", required_argument, NULL, 'D' }, { "config", required_argument, NULL, 'c' },       \
	{ "help", no_argument, NULL, 'h' }

/** Handle a common option @opt (from getopt_long) into @g: returns 1 when it
 *  was one (-1 for --help: the caller prints the help and exits 0), 0 when it
 *  is the command's own. */
int cmd_common_opt(struct cli_global *g, int opt, const char *arg);
/** Print the help of @c on g->out and return CLI_EXIT_OK. */
int cmd_print_help(const struct cli_global *g, const struct cli_command *c);
/** Report the option getopt_long refused ('?' or ':' returned, optstring
 *  starting with ':'): returns CLI_EXIT_USAGE. */
int cmd_bad_opt(const struct cli_global *g, const char *cmd, int opt, char **argv);
/** Reset getopt for a new parse (glibc). */
void cmd_getopt_reset(void);
