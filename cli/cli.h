/* cli.h - what the sitepki commands share: the context, the dispatch table
 * entry type and small helpers for secrets, files and output. */
#ifndef SITEPKI_CLI_H
#define SITEPKI_CLI_H

#include <stdio.h>

#include "ca/ca.h"

typedef struct {
	const char *home; /* --home or $SITEPKI_HOME; NULL if neither */
	const char *prog;
} cli_ctx;

typedef struct {
	const char *name;
	int (*run)(const cli_ctx *ctx, int argc, char **argv);
	const char *summary;
} cli_command;

/* Print "sitepki: <message>" for the last error and return its exit code. */
int cli_fail(sp_err rc);
/* Print a usage error ("sitepki CMD: msg; see sitepki CMD --help") and
 * return SP_ERR_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) SP_PRINTF(2, 3);

/* The CA home or a usage error. */
sp_err cli_home(const cli_ctx *ctx, const char **home);

/* A passphrase from --pass-file / --pass-env, then $SITEPKI_PASS_FILE, then
 * the terminal (confirm = ask twice). Never from argv. */
sp_err cli_passphrase(const char *file, const char *env, int confirm, sp_secret *out);

/* Open the home named by ctx; with a passphrase when want_key. */
sp_err cli_open_ca(const cli_ctx *ctx, int want_key, const char *pass_file, const char *pass_env, sp_ca **out);

/* Write data to path atomically (mode), or to stdout when path is NULL or "-". */
sp_err cli_write_out(const char *path, const void *data, size_t len, mode_t mode);

/* JSON string literal (quotes included) with RFC 8259 escapes. */
void cli_json_str(FILE *f, const char *s);

/* Commands (cli/cmd_*.c). */
int cmd_init(const cli_ctx *ctx, int argc, char **argv);
int cmd_ca(const cli_ctx *ctx, int argc, char **argv);
int cmd_template(const cli_ctx *ctx, int argc, char **argv);
int cmd_issue(const cli_ctx *ctx, int argc, char **argv);
int cmd_cert(const cli_ctx *ctx, int argc, char **argv);
int cmd_audit(const cli_ctx *ctx, int argc, char **argv);

/* Common option letters for the passphrase, used by several commands. */
#define CLI_OPT_PASS_FILE 1001
#define CLI_OPT_PASS_ENV 1002

#endif
