/* cmd_audit.c - `sitepki audit verify|list`. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static int print_row(const sp_audit_row *r, void *arg)
{
	char t[32];
	(void)arg;
	sp_time_iso(r->time, t, sizeof t);
	printf("%6lld %s %-12s %-18s %s %s\n", (long long)r->id, t, r->actor, r->action, r->subject ? r->subject : "",
	       r->detail ? r->detail : "");
	return 0;
}

int cmd_audit(const cli_ctx *ctx, int argc, char **argv)
{
	sp_ca *ca = NULL;
	sp_err rc;
	int ret = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: sitepki --home DIR audit verify\n"
			"       sitepki --home DIR audit list [--limit N]\n"
			"verify walks the hash chain and fails (exit 5) naming the first row that was\n"
			"edited, deleted, inserted or reordered.\n");
		return argc < 2 ? SP_ERR_USAGE : 0;
	}
	if ((rc = cli_open_ca(ctx, 0, NULL, NULL, &ca)) != SP_OK)
		return cli_fail(rc);
	if (!strcmp(argv[1], "verify") && argc == 2) {
		int64_t rows = 0, bad = 0;
		if ((rc = sp_store_audit_verify(sp_ca_get0_store(ca), &rows, &bad)) != SP_OK)
			ret = cli_fail(rc);
		else
			printf("audit log intact: %lld rows\n", (long long)rows);
	} else if (!strcmp(argv[1], "list") && (argc == 2 || (argc == 4 && !strcmp(argv[2], "--limit")))) {
		long long limit = 0;
		if (argc == 4) {
			char *end;
			limit = strtoll(argv[3], &end, 10);
			if (*end || limit < 1) {
				sp_ca_close(ca);
				return cli_usage("audit list", "--limit must be a positive number");
			}
		}
		if ((rc = sp_store_audit_list(sp_ca_get0_store(ca), limit, print_row, NULL)) != SP_OK)
			ret = cli_fail(rc);
	} else {
		ret = cli_usage("audit", "expected verify or list [--limit N]");
	}
	sp_ca_close(ca);
	return ret;
}
