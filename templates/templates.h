/*
 * templates.h - certificate templates: XML files validated by a RELAX NG
 * schema (templates/template.rng) and turned into a read-only profile.
 *
 * The format is documented in docs/templates.md. This module knows nothing
 * of OpenSSL: attribute types, curves, hashes and key usages are plain names
 * and bits; ca/ maps them onto X.509.
 *
 * Security: libxml2 runs with XML_PARSE_NONET and without entity
 * substitution or DTD loading, and any document carrying a DOCTYPE is
 * refused before validation (XXE, billion laughs).
 */
#ifndef SITEPKI_TEMPLATES_H
#define SITEPKI_TEMPLATES_H

#include <stddef.h>

#include "common/common.h"

#define SP_TPL_MAX_FILE_BYTES (256 * 1024)
#define SP_TPL_MAX_EKU 8
#define SP_TPL_MAX_ATTRS 8
#define SP_TPL_MAX_CURVES 4

/* Key usage bits (RFC 5280 4.2.1.3 order). */
enum {
	SP_KU_DIGITAL_SIGNATURE = 1 << 0,
	SP_KU_NON_REPUDIATION = 1 << 1,
	SP_KU_KEY_ENCIPHERMENT = 1 << 2,
	SP_KU_DATA_ENCIPHERMENT = 1 << 3,
	SP_KU_KEY_AGREEMENT = 1 << 4
};

/* Where a name may come from (bit set). */
enum { SP_FROM_CSR = 1 << 0, SP_FROM_CLI = 1 << 1 };

/* Enrollment methods that may auto-approve (bit set; used by enroll/). */
enum { SP_APPROVE_TOKEN = 1 << 0, SP_APPROVE_CLIENTCERT = 1 << 1 };

typedef enum { SP_FORMAT_TEXT = 0, SP_FORMAT_DNS = 1 } sp_tpl_format;

typedef struct {
	char type[16];   /* "CN", "O", "OU", "L", "ST", "C", "DC", "serialNumber" */
	int required;    /* must be present in the issued subject */
	int format;      /* sp_tpl_format: DNS = the value must be an LDH host name */
	char *fixed;     /* NULL, or the exact value; "{siteCode}" is replaced by
			  * the site code. A CSR value, if any, must equal it. */
} sp_tpl_attr;

typedef struct {
	int from;        /* SP_FROM_* bits; 0 = this SAN type is not allowed */
	int min, max;    /* number of values in the issued certificate */
} sp_tpl_san;

typedef struct {
	char *name;        /* equals the file name without ".xml" */
	char *description;
	char *path;        /* file it was loaded from */
	int validity_days;
	char hash[8];      /* "sha256", "sha384", "sha512" */

	int rsa_allowed;
	int rsa_min_bits, rsa_max_bits;
	char ec_curves[SP_TPL_MAX_CURVES][8]; /* "P-256", "P-384" */
	int n_ec_curves;

	int issuer_rsa_only;      /* every CA key in the chain must be RSA */
	int issuer_max_rsa_bits;  /* 0, or the largest RSA CA key allowed in the chain */
	int issuer_no_sha1;       /* no CA certificate in the chain signed with SHA-1 */

	unsigned key_usage;          /* SP_KU_* */
	unsigned key_usage_rsa_only; /* subset of key_usage left out for EC keys
				      * (RFC 5480 3: no keyEncipherment with ECDSA) */
	int key_usage_critical;

	char *eku_oid[SP_TPL_MAX_EKU];  /* dotted OIDs */
	char *eku_name[SP_TPL_MAX_EKU]; /* label from the file ("serverAuth") */
	int n_eku;

	sp_tpl_attr attrs[SP_TPL_MAX_ATTRS]; /* allowed subject attributes, in
					      * the order they are issued */
	int n_attrs;
	int needs_site_code; /* some fixed value uses {siteCode} */

	sp_tpl_san san_dns;
	sp_tpl_san san_upn;

	int auto_approve;    /* SP_APPROVE_* */
	int server_keygen;   /* CA-side key generation allowed (boot media) */
	int keygen_bits;     /* RSA size for CA-side generation */
} sp_template;

/* Parse and validate a template held in memory; `origin` is the name used in
 * error messages (a file path). The expected template name is the basename
 * of origin without ".xml" when origin ends in ".xml" (a mismatch is an
 * error), else any name is accepted. Errors are SP_ERR_INPUT with a
 * one-line message "FILE:LINE: rule" (schema) or "FILE: what" (semantics). */
sp_err sp_template_parse(const char *xml, size_t len, const char *origin, sp_template **out) SP_WARN_UNUSED;

/* Read a file (bounded by SP_TPL_MAX_FILE_BYTES) and sp_template_parse it. */
sp_err sp_template_load_file(const char *path, sp_template **out) SP_WARN_UNUSED;

void sp_template_free(sp_template *t); /* NULL is fine */

/* Directory of the shipped templates and schema: $SITEPKI_DATA_DIR if set,
 * else the compile-time SITEPKI_DATA_DIR. */
const char *sp_template_data_dir(void);

/* Find a template by name: <home>/templates/<name>.xml first (a CA home may
 * override or add), then the shipped directory. `home` may be NULL. A name
 * that is not [a-z0-9][a-z0-9-]* is SP_ERR_INPUT; none found SP_ERR_NOTFOUND. */
sp_err sp_template_find(const char *home, const char *name, sp_template **out) SP_WARN_UNUSED;

/* All templates visible from `home` (home ones shadow shipped ones of the same
 * name), sorted by name. cb returns non-zero to stop. An invalid file is
 * reported through cb with t == NULL and `error` set, and the walk goes on. */
typedef int (*sp_template_cb)(const sp_template *t, const char *path, const char *error, void *arg);
sp_err sp_template_list(const char *home, sp_template_cb cb, void *arg) SP_WARN_UNUSED;

/* The hardened XML reader templates use, for other XML inputs of sitepki
 * (the service configuration): no network, no entity substitution, no DTD,
 * a DOCTYPE refused, at most max_bytes, then validated against the RELAX NG
 * schema `schema_file` in sp_template_data_dir() (compiled once per
 * process). `what` names the kind of document in messages. On success *out
 * is the document (xmlFreeDoc it). Errors as for sp_template_parse. Call it
 * first from one thread: the schema cache is filled without a lock. */
struct _xmlDoc;
sp_err sp_xml_read_validated(const char *xml, size_t len, const char *origin, const char *schema_file,
			     const char *what, size_t max_bytes, struct _xmlDoc **out) SP_WARN_UNUSED;

/* Templates loaded once per process, for the long-running service: the
 * first sp_template_cache_get of a name loads it with sp_template_find
 * (home, then shipped) and keeps it; later calls return the same template.
 * The template is borrowed for the life of the cache (do not free it). A
 * name not found is not kept. Thread-safe. Changes to template files take
 * effect when the service restarts. NULL from _new on allocation failure. */
typedef struct sp_template_cache sp_template_cache;
sp_template_cache *sp_template_cache_new(const char *home);
sp_err sp_template_cache_get(sp_template_cache *c, const char *name, const sp_template **out) SP_WARN_UNUSED;
void sp_template_cache_free(sp_template_cache *c); /* NULL is fine */

/* Expand "{siteCode}" in a fixed value; caller frees. NULL on bad input. */
char *sp_template_expand(const char *fixed, const char *site_code);

#endif
