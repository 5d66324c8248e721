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

/* "cli:<user>" for audit rows (SUDO_USER, else USER). */
const char *cli_actor(void);

/* A time from the command line: "2026-11-20T10:00:00Z" or seconds since the
 * epoch. */
sp_err cli_parse_time(const char *s, int64_t *out);

/* A row id (request, token): decimal digits only, 1 .. 10^18-1. 1 if valid. */
int cli_parse_id(const char *s, int64_t *id);

/* Read a certificate file (PEM or DER). */
sp_err cli_read_cert(const char *path, X509 **out);

/* JSON string literal (quotes included) with RFC 8259 escapes. */
void cli_json_str(FILE *f, const char *s);

/* Commands (cli/cmd_*.c). */
int cmd_init(const cli_ctx *ctx, int argc, char **argv);
int cmd_ca(const cli_ctx *ctx, int argc, char **argv);
int cmd_template(const cli_ctx *ctx, int argc, char **argv);
int cmd_issue(const cli_ctx *ctx, int argc, char **argv);
int cmd_cert(const cli_ctx *ctx, int argc, char **argv);
int cmd_audit(const cli_ctx *ctx, int argc, char **argv);
int cmd_revoke(const cli_ctx *ctx, int argc, char **argv);
int cmd_release(const cli_ctx *ctx, int argc, char **argv);
int cmd_crl(const cli_ctx *ctx, int argc, char **argv);
int cmd_block(const cli_ctx *ctx, int argc, char **argv);
int cmd_token(const cli_ctx *ctx, int argc, char **argv);
int cmd_request(const cli_ctx *ctx, int argc, char **argv);
int cmd_serve(const cli_ctx *ctx, int argc, char **argv);
int cmd_media(const cli_ctx *ctx, int argc, char **argv);

/* Common option letters for the passphrase, used by several commands. */
#define CLI_OPT_PASS_FILE 1001
#define CLI_OPT_PASS_ENV 1002

#endif
