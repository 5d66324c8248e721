/* block_int.h - private to the block list (block.c, block_export.c) and its
 * unit test / fuzz target: the reason rule and the signed export format
 * (docs/blocklist.md, "Export format"). */
#ifndef SITEPKI_BLOCK_INT_H
#define SITEPKI_BLOCK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "revocation/revocation.h"

/* A reason: 1..256 single-byte printable ASCII characters (0x20..0x7e), not
 * only spaces. The same rule holds for what is added, exported and accepted
 * by sp_block_verify, so every export verifies. */
#define SP_BLOCK_MAX_REASON 256

/* Largest export sp_block_export writes and sp_block_verify reads (DER).
 * One entry is at most ~950 bytes of text, so this is well over 50k entries
 * with the longest reasons and ~300k with typical ones. */
#define SP_BLOCK_MAX_EXPORT (64u * 1024 * 1024)

/* First line of the format; the version is the second word. */
#define SP_BLOCK_MAGIC "sitepki-blocklist"
#define SP_BLOCK_VERSION 1

/* The reason rule above; `field` names the value in the message. SP_OK or
 * SP_ERR_USAGE. */
sp_err sp_block_reason_check(const char *reason, size_t len, const char *field) SP_WARN_UNUSED;

/* Parse the text of an export strictly (every line, field and the count;
 * see docs/blocklist.md) and check that its issuer line names `issuer_sha256`
 * (64 lower-case hex). The whole text is checked before cb sees the first
 * entry, so a consumer never acts on part of a bad list. The row handed to cb
 * is valid only during the call; its subject, issuer and created_by are "",
 * in_store is 0 (the format does not carry them). A non-zero cb return stops
 * the walk and is returned (as SP_ERR_INTERNAL unless it is an sp_err).
 * SP_ERR_INPUT with the line number when the text is not well formed. */
sp_err sp_block_parse_text(const char *text, size_t len, const char *issuer_sha256, int64_t *generated_at,
			   sp_block_entry_cb cb, void *arg) SP_WARN_UNUSED;

/* CMS SignedData over `text` (attached, binary) signed by the CA's key and
 * certificate with SHA-256 and a signingTime of `now`; DER into *out
 * (OPENSSL_malloc'd, caller OPENSSL_free()s). Used by sp_block_export and by
 * the unit test to sign hand-made contents. */
sp_err sp_block_sign_text(sp_ca *ca, const char *text, size_t len, int64_t now, uint8_t **out,
			  size_t *outlen) SP_WARN_UNUSED;

#endif
