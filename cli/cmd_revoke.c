/* cmd_revoke.c - `sitepki revoke` and `sitepki release`. */
#include "cli/cli.h"
#include "revocation/revocation.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void help(FILE *f)
{
	fprintf(f,
		"usage: sitepki --home DIR revoke SERIAL|FINGERPRINT --reason R [--time T]\n"
		"       sitepki --home DIR revoke --from-file LIST --reason R [--time T]\n"
		"       sitepki --home DIR release SERIAL|FINGERPRINT\n"
		"Reasons (RFC 5280): unspecified, keyCompromise, cACompromise, affiliationChanged,\n"
		"superseded, cessationOfOperation, certificateHold, privilegeWithdrawn.\n"
		"--time: when the revocation took effect (2026-11-20T10:00:00Z; default now; not in the future).\n"
		"--from-file: one serial or fingerprint per line ('#' comments); all are revoked in one\n"
		"transaction, or none if any is unknown. Already revoked ones are left as they are.\n"
		"release lifts a certificateHold; a final revocation is never undone.\n"
		"Revocation reaches relying parties with the next `sitepki crl publish`.\n");
}

typedef struct {
	char **keys;
	size_t *lineno; /* file line of each key, for messages */
	size_t n;
	uint8_t *buf;
} key_list;

static sp_err read_list(const char *path, key_list *l)
{
	size_t len = 0, cap = 0, lineno = 0;
	char *next;
	sp_err rc = sp_file_read(path, 256u * 1024 * 1024, &l->buf, &len);
	if (rc != SP_OK)
		return rc;
	/* line by line (not strtok, which would skip blank lines and lose the
	 * numbering the messages give) */
	for (char *line = (char *)l->buf; line; line = next) {
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		lineno++;
		line[strcspn(line, "\r")] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		for (char *e = line + strlen(line); e > line && (e[-1] == ' ' || e[-1] == '\t'); e--)
			e[-1] = '\0';
		if (l->n == cap) {
			char **nk;
			size_t *nl;
			cap = cap ? cap * 2 : 1024;
			if (!(nk = realloc(l->keys, cap * sizeof *nk)))
				return sp_fail(SP_ERR_NOMEM, "out of memory");
			l->keys = nk;
			if (!(nl = realloc(l->lineno, cap * sizeof *nl)))
				return sp_fail(SP_ERR_NOMEM, "out of memory");
			l->lineno = nl;
		}
		l->lineno[l->n] = lineno;
		l->keys[l->n++] = line;
	}
	if (l->n == 0)
		return sp_fail(SP_ERR_INPUT, "%s: no serials or fingerprints in it", path);
	return SP_OK;
}

int cmd_revoke(const cli_ctx *ctx, int argc, char **argv)
{
	enum { O_REASON = 1, O_TIME, O_FILE };
	static const struct option opts[] = {
		{"reason", required_argument, NULL, O_REASON},
		{"time", required_argument, NULL, O_TIME},
		{"from-file", required_argument, NULL, O_FILE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *reason_s = NULL, *file = NULL;
	int64_t now = (int64_t)time(NULL), when = now;
	key_list l = {0};
	sp_ca *ca = NULL;
	size_t done = 0, skipped = 0;
	int reason = 0, c, in_txn = 0, ret = 0;
	char serial[41];
	sp_err rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_REASON: reason_s = optarg; break;
		case O_TIME:
			if ((rc = cli_parse_time(optarg, &when)) != SP_OK)
				return cli_fail(rc);
			break;
		case O_FILE: file = optarg; break;
		case 'h': help(stdout); return 0;
		default: return cli_usage("revoke", "unknown option");
		}
	}
	if (!reason_s)
		return cli_usage("revoke", "--reason is required");
	if ((rc = sp_reason_parse(reason_s, &reason)) != SP_OK)
		return cli_fail(rc);
	if (when > now + 60)
		return cli_usage("revoke", "--time is in the future");
	if (!!file == (optind < argc) || argc - optind > 1)
		return cli_usage("revoke", "give one SERIAL|FINGERPRINT or --from-file LIST");
	if (file) {
		if ((rc = read_list(file, &l)) != SP_OK) {
			ret = cli_fail(rc);
			goto out;
		}
	} else {
		static char *one[1];
		one[0] = argv[optind];
		l.keys = NULL;
		l.n = 1;
		l.keys = malloc(sizeof *l.keys);
		if (!l.keys) {
			ret = cli_fail(sp_fail(SP_ERR_NOMEM, "out of memory"));
			goto out;
		}
		l.keys[0] = one[0];
	}
	if ((rc = cli_open_ca(ctx, 0, NULL, NULL, &ca)) != SP_OK || (rc = sp_store_begin(sp_ca_get0_store(ca))) != SP_OK) {
		ret = cli_fail(rc);
		goto out;
	}
	in_txn = 1;
	for (size_t i = 0; i < l.n; i++) {
		rc = sp_revoke(ca, l.keys[i], reason, when, cli_actor(), serial);
		if (rc == SP_ERR_EXISTS) {
			/* a no-op with a message, never a second record */
			fprintf(stderr, "sitepki: %s\n", sp_last_error());
			skipped++;
			continue;
		}
		if (rc != SP_OK) {
			/* all or nothing: an unknown serial in an incident list
			 * is a mistake to look at before anything is revoked */
			if (l.n > 1) {
				char msg[1024];
				snprintf(msg, sizeof msg, "%s", sp_last_error());
				sp_fail(rc, "%s (line %zu of %s); nothing was revoked", msg, l.lineno[i], file);
			}
			ret = cli_fail(rc);
			goto out;
		}
		done++;
	}
	if ((rc = sp_store_commit(sp_ca_get0_store(ca))) != SP_OK) {
		ret = cli_fail(rc);
		goto out;
	}
	in_txn = 0;
	if (l.n == 1 && done == 1)
		fprintf(stderr, "revoked %s (%s); publish a CRL to tell relying parties: sitepki crl publish\n", serial,
			sp_reason_name(reason));
	else if (l.n > 1)
		fprintf(stderr, "revoked %zu, already revoked %zu (unchanged); publish a CRL: sitepki crl publish\n", done,
			skipped);
	ret = (l.n == 1 && skipped == 1) ? SP_ERR_EXISTS : 0;
out:
	if (in_txn)
		sp_store_rollback(sp_ca_get0_store(ca));
	sp_ca_close(ca);
	free(l.keys);
	free(l.lineno);
	free(l.buf);
	return ret;
}

int cmd_release(const cli_ctx *ctx, int argc, char **argv)
{
	sp_ca *ca = NULL;
	char serial[41];
	sp_err rc;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		help(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage("release", "expected one SERIAL or FINGERPRINT");
	if ((rc = cli_open_ca(ctx, 0, NULL, NULL, &ca)) != SP_OK)
		return cli_fail(rc);
	if ((rc = sp_store_begin(sp_ca_get0_store(ca))) == SP_OK) {
		if ((rc = sp_release(ca, argv[1], (int64_t)time(NULL), cli_actor(), serial)) == SP_OK)
			rc = sp_store_commit(sp_ca_get0_store(ca));
		if (rc != SP_OK)
			sp_store_rollback(sp_ca_get0_store(ca));
	}
	sp_ca_close(ca);
	if (rc != SP_OK)
		return cli_fail(rc);
	fprintf(stderr, "released %s from hold; publish a CRL: sitepki crl publish\n", serial);
	return 0;
}
