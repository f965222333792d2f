/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_KEYSERVERD_TLS_H
#define KS_KEYSERVERD_TLS_H

/*
 * The server's TLS certificate chain and private key (GnuTLS), swappable at
 * run time (SIGHUP). Handshakes take a counted reference to the current
 * credentials through the certificate callback and drop it when their
 * connection closes, so a reload never frees credentials that a handshake
 * in progress, or a session that used them, still points to.
 */

#include <stddef.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "ks_error.h"

/* Longest certificate chain accepted (leaf first). */
#define KS_TLS_MAX_CHAIN 16
/* Largest certificate or key file. */
#define KS_TLS_MAX_FILE (1024 * 1024)

struct ks_tls;
struct ks_tls_creds;

/* Load cert_path (PEM chain, leaf first) and key_path (PEM private key) and
 * check that the key belongs to the leaf certificate. KS_ERR_TLS with a
 * message in err, KS_ERR_NOMEM. The paths are kept for reloads. */
KS_WUR int ks_tls_new(const char *cert_path, const char *key_path, struct ks_tls **ret, char *err,
                      size_t errlen);

/* Re-read both files; on success new handshakes use them, on failure the
 * old credentials stay in use. Thread-safe. */
KS_WUR int ks_tls_reload(struct ks_tls *tls, char *err, size_t errlen);

/* Drop the holder's reference; credentials still referenced by connections
 * are freed when the last one is released. NULL is a no-op. */
void ks_tls_free(struct ks_tls *tls);

/* A new reference to the current credentials (never NULL for a live
 * holder). */
struct ks_tls_creds *ks_tls_acquire(struct ks_tls *tls);
void ks_tls_release(struct ks_tls_creds *creds);

/* The chain and key, as gnutls_certificate_retrieve_function2 returns them;
 * valid while the reference is held. */
void ks_tls_creds_get(struct ks_tls_creds *creds, gnutls_pcert_st **ret_pcert, unsigned int *ret_n,
                      gnutls_privkey_t *ret_key);

/* "subject DN, expires YYYY-MM-DD, sha256 FINGERPRINT" of the current leaf
 * certificate, for the log. */
void ks_tls_describe(struct ks_tls *tls, char *buf, size_t len);

#endif
