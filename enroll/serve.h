/*
 * serve.h - `sitepki serve`: the enrollment service's process.
 *
 * Order of events (docs/serve.md):
 *   1. fork the signer with the CA passphrase (before any thread exists);
 *   2. open the CA home without its key;
 *   3. load, or on first start issue, the HTTPS server certificate
 *      (web-server template, through the signer);
 *   4. block SIGTERM/SIGINT/SIGHUP in every thread, start the listeners,
 *      print the bound addresses on stdout;
 *   5. wait for SIGTERM or SIGINT; then stop accepting, let the requests in
 *      flight finish (at most SP_SERVE_DRAIN_SECONDS), stop the listeners
 *      and the signer, and return.
 */
#ifndef SITEPKI_ENROLL_SERVE_H
#define SITEPKI_ENROLL_SERVE_H

#include "common/common.h"
#include "enroll/serve_config.h"

#define SP_SERVE_DRAIN_SECONDS 10
#define SP_SERVE_DIR "serve" /* <home>/serve: the self-issued server key and certificate */

/* Run until SIGTERM/SIGINT. pass->buf is wiped before this returns (the
 * caller still releases it with sp_secret_wipe). SP_OK after a clean stop;
 * SP_ERR_IO if the signer died while serving. */
sp_err sp_serve_run(const char *home, const sp_serve_config *cfg, const sp_secret *pass) SP_WARN_UNUSED;

#endif
