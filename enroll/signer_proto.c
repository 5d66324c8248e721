/* signer_proto.c - the signer's wire format: one strict parser and a writer
 * that applies the same limits (layout in signer_int.h, docs/signer.md). */
#include "enroll/signer_int.h"

#include <string.h>

typedef enum { K_STR, K_BYTES, K_U32 } field_kind;

typedef struct {
	const char *name;
	field_kind kind;
	size_t max_len;
	unsigned max_count;
	uint8_t type; /* the one message type that may carry it */
	int required;
} field_spec;

/* Indexed by tag; entry 0 unused. */
static const field_spec specs[SP_SGT_MAX + 1] = {
	[SP_SGT_TEMPLATE] = {"template", K_STR, SP_SIGNER_MAX_STR, 1, SP_SG_ISSUE, 1},
	[SP_SGT_CSR] = {"csr", K_BYTES, SP_MAX_CSR_BYTES, 1, SP_SG_ISSUE, 1},
	[SP_SGT_DNS] = {"dns", K_STR, SP_SIGNER_MAX_STR, SP_SIGNER_MAX_DNS, SP_SG_ISSUE, 0},
	[SP_SGT_UPN] = {"upn", K_STR, SP_SIGNER_MAX_STR, 1, SP_SG_ISSUE, 0},
	[SP_SGT_SITE] = {"site", K_STR, SP_SIGNER_MAX_STR, 1, SP_SG_ISSUE, 0},
	[SP_SGT_REQUESTER] = {"requester", K_STR, SP_SIGNER_MAX_STR, 1, SP_SG_ISSUE, 1},
	[SP_SGT_CERT] = {"cert", K_BYTES, SP_MAX_CERT_BYTES, 1, SP_SG_CERT, 1},
	[SP_SGT_ERR_CODE] = {"error code", K_U32, 4, 1, SP_SG_ERROR, 1},
	[SP_SGT_ERR_MSG] = {"error message", K_STR, SP_SIGNER_MAX_ERRMSG, 1, SP_SG_ERROR, 1},
	[SP_SGT_PKCS7] = {"pkcs7", K_BYTES, SP_SIGNER_MAX_P7, 1, SP_SG_CERT, 1},
	[SP_SGT_SERIAL] = {"serial", K_STR, SP_SIGNER_MAX_SERIAL, 1, SP_SG_CERT, 1},
};

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_u32_at(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A failure code the signer may report: any sp_err but SP_OK. */
static int err_code_known(uint32_t v)
{
#define SP_SG_CASE_(sym, num, str) case num:
	switch (v) {
		SP_ERRORS(SP_SG_CASE_)
		return v != SP_OK;
	default:
		return 0;
	}
#undef SP_SG_CASE_
}

static void store_field(sp_signer_msg *m, uint16_t tag, const uint8_t *p, size_t n)
{
	char *dst = NULL;
	switch (tag) {
	case SP_SGT_TEMPLATE: dst = m->template_name; break;
	case SP_SGT_DNS: dst = m->dns[m->n_dns++]; break;
	case SP_SGT_UPN: dst = m->upn; break;
	case SP_SGT_SITE: dst = m->site; break;
	case SP_SGT_REQUESTER: dst = m->requester; break;
	case SP_SGT_ERR_MSG: dst = m->err_msg; break;
	case SP_SGT_SERIAL: dst = m->serial; break;
	case SP_SGT_CSR: m->csr = p; m->csr_len = n; return;
	case SP_SGT_CERT: m->cert = p; m->cert_len = n; return;
	case SP_SGT_PKCS7: m->p7 = p; m->p7_len = n; return;
	case SP_SGT_ERR_CODE: m->err_code = get_u32(p); return;
	default: return;
	}
	/* n <= the array size - 1: checked against the spec by the caller */
	memcpy(dst, p, n);
	dst[n] = '\0';
}

sp_err sp_signer_msg_parse(const uint8_t *buf, size_t len, sp_signer_msg *m)
{
	unsigned count[SP_SGT_MAX + 1] = {0};
	size_t off;

	memset(m, 0, sizeof *m);
	if (len < SP_SIGNER_HDR_LEN)
		return sp_fail(SP_ERR_PROTOCOL, "signer message of %zu bytes is shorter than its header", len);
	if (len > SP_SIGNER_MAX_MSG)
		return sp_fail(SP_ERR_PROTOCOL, "signer message of %zu bytes is over the %d-byte limit", len,
			       SP_SIGNER_MAX_MSG);
	if (get_u32(buf) != SP_SIGNER_MAGIC)
		return sp_fail(SP_ERR_PROTOCOL, "signer message: bad magic 0x%08x", (unsigned)get_u32(buf));
	if (buf[4] != SP_SIGNER_VERSION)
		return sp_fail(SP_ERR_PROTOCOL, "signer message: version %u, expected %d", buf[4], SP_SIGNER_VERSION);
	if (buf[5] < 1 || buf[5] > SP_SG_TYPE_MAX)
		return sp_fail(SP_ERR_PROTOCOL, "signer message: unknown type %u", buf[5]);
	if (get_u16(buf + 6) != 0)
		return sp_fail(SP_ERR_PROTOCOL, "signer message: reserved bits set");
	if (get_u32(buf + 8) != len)
		return sp_fail(SP_ERR_PROTOCOL, "signer message: header says %u bytes, received %zu",
			       (unsigned)get_u32(buf + 8), len);
	m->type = buf[5];

	for (off = SP_SIGNER_HDR_LEN; off < len;) {
		uint16_t tag;
		size_t n;
		const field_spec *f;

		if (len - off < SP_SIGNER_FIELD_HDR_LEN)
			return sp_fail(SP_ERR_PROTOCOL, "signer message: truncated field header at offset %zu", off);
		tag = get_u16(buf + off);
		n = get_u32(buf + off + 2);
		off += SP_SIGNER_FIELD_HDR_LEN;
		if (n > len - off)
			return sp_fail(SP_ERR_PROTOCOL, "signer message: field %u of %zu bytes runs past the end",
				       tag, n);
		if (tag == 0 || tag > SP_SGT_MAX || specs[tag].type != m->type)
			return sp_fail(SP_ERR_PROTOCOL, "signer message: unknown tag %u for type %u", tag, m->type);
		f = &specs[tag];
		if (++count[tag] > f->max_count)
			return f->max_count == 1
				       ? sp_fail(SP_ERR_PROTOCOL, "signer message: duplicate %s", f->name)
				       : sp_fail(SP_ERR_PROTOCOL, "signer message: more than %u %s fields",
						 f->max_count, f->name);
		if (f->kind == K_U32 && n != 4)
			return sp_fail(SP_ERR_PROTOCOL, "signer message: %s has %zu bytes, expected 4", f->name, n);
		if (n == 0)
			return sp_fail(SP_ERR_PROTOCOL, "signer message: empty %s", f->name);
		if (n > f->max_len)
			return sp_fail(SP_ERR_PROTOCOL, "signer message: %s of %zu bytes is over the %zu-byte limit",
				       f->name, n, f->max_len);
		if (f->kind == K_STR && memchr(buf + off, '\0', n))
			return sp_fail(SP_ERR_PROTOCOL, "signer message: NUL byte inside %s", f->name);
		store_field(m, tag, buf + off, n);
		off += n;
	}

	for (unsigned tag = 1; tag <= SP_SGT_MAX; tag++)
		if (specs[tag].type == m->type && specs[tag].required && count[tag] == 0)
			return sp_fail(SP_ERR_PROTOCOL, "signer message: %s missing", specs[tag].name);
	if (m->type == SP_SG_ERROR && !err_code_known(m->err_code))
		return sp_fail(SP_ERR_PROTOCOL, "signer message: unknown error code %u", (unsigned)m->err_code);
	return SP_OK;
}

/* --------------------------------------------------------------- writer */

void sp_signer_wbuf_init(sp_signer_wbuf *w, uint8_t *buf, size_t cap, uint8_t type)
{
	w->buf = buf;
	w->cap = cap < SP_SIGNER_MAX_MSG ? cap : SP_SIGNER_MAX_MSG;
	w->len = 0;
	w->err = SP_OK;
	if (w->cap < SP_SIGNER_HDR_LEN) {
		w->err = sp_fail(SP_ERR_INTERNAL, "signer message buffer of %zu bytes", cap);
		return;
	}
	put_u32_at(buf, SP_SIGNER_MAGIC);
	buf[4] = SP_SIGNER_VERSION;
	buf[5] = type;
	buf[6] = buf[7] = 0;
	put_u32_at(buf + 8, 0); /* set by finish */
	w->len = SP_SIGNER_HDR_LEN;
}

static void put_field(sp_signer_wbuf *w, uint16_t tag, const void *p, size_t n)
{
	const char *name = tag >= 1 && tag <= SP_SGT_MAX ? specs[tag].name : "field";
	if (w->err != SP_OK)
		return;
	if (n == 0) {
		w->err = sp_fail(SP_ERR_INPUT, "%s: empty", name);
		return;
	}
	if (tag >= 1 && tag <= SP_SGT_MAX && n > specs[tag].max_len) {
		w->err = sp_fail(SP_ERR_INPUT, "%s: %zu bytes, over the %zu-byte limit", name, n, specs[tag].max_len);
		return;
	}
	if (n > w->cap - w->len || w->cap - w->len - n < SP_SIGNER_FIELD_HDR_LEN) {
		w->err = sp_fail(SP_ERR_INPUT, "%s: the message would exceed %zu bytes", name, w->cap);
		return;
	}
	w->buf[w->len] = (uint8_t)(tag >> 8);
	w->buf[w->len + 1] = (uint8_t)tag;
	put_u32_at(w->buf + w->len + 2, (uint32_t)n);
	memcpy(w->buf + w->len + SP_SIGNER_FIELD_HDR_LEN, p, n);
	w->len += SP_SIGNER_FIELD_HDR_LEN + n;
}

void sp_signer_put_bytes(sp_signer_wbuf *w, uint16_t tag, const void *p, size_t n)
{
	put_field(w, tag, p, n);
}

void sp_signer_put_str(sp_signer_wbuf *w, uint16_t tag, const char *s)
{
	/* a C string has no NUL inside: the receiver's rule holds by construction */
	put_field(w, tag, s, strlen(s));
}

void sp_signer_put_u32(sp_signer_wbuf *w, uint16_t tag, uint32_t v)
{
	uint8_t b[4];
	put_u32_at(b, v);
	put_field(w, tag, b, sizeof b);
}

sp_err sp_signer_wbuf_finish(sp_signer_wbuf *w, size_t *len)
{
	*len = 0;
	if (w->err != SP_OK)
		return w->err;
	put_u32_at(w->buf + 8, (uint32_t)w->len);
	*len = w->len;
	return SP_OK;
}
