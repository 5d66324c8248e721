/* reason.c - RFC 5280 5.3.1 CRLReason names. */
#include "revocation/revocation.h"

#include <string.h>

static const struct {
	const char *name;
	int code;
	int revocable; /* may be given to `sitepki revoke` */
} reasons[] = {
	{"unspecified", SP_REASON_UNSPECIFIED, 1},
	{"keyCompromise", SP_REASON_KEY_COMPROMISE, 1},
	{"cACompromise", SP_REASON_CA_COMPROMISE, 1},
	{"affiliationChanged", SP_REASON_AFFILIATION_CHANGED, 1},
	{"superseded", SP_REASON_SUPERSEDED, 1},
	{"cessationOfOperation", SP_REASON_CESSATION_OF_OPERATION, 1},
	{"certificateHold", SP_REASON_CERTIFICATE_HOLD, 1},
	{"removeFromCRL", SP_REASON_REMOVE_FROM_CRL, 0},
	{"privilegeWithdrawn", SP_REASON_PRIVILEGE_WITHDRAWN, 1},
	{"aACompromise", SP_REASON_AA_COMPROMISE, 0},
};

sp_err sp_reason_parse(const char *name, int *reason)
{
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (reasons[i].revocable && !strcmp(name, reasons[i].name)) {
			*reason = reasons[i].code;
			return SP_OK;
		}
	return sp_fail(SP_ERR_USAGE,
		       "'%s' is not a revocation reason (unspecified, keyCompromise, cACompromise, affiliationChanged, "
		       "superseded, cessationOfOperation, certificateHold, privilegeWithdrawn)",
		       name);
}

const char *sp_reason_name(int reason)
{
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (reasons[i].code == reason)
			return reasons[i].name;
	return "unknown";
}
