/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_EKCERT_INTERNAL_H
#define KS_EKCERT_INTERNAL_H

/* Shared by lib/ekcert.c and lib/ekcert_verify.c only. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "ekcert.h"

/* Take ownership of x (freed on failure too). */
KS_WUR int ks_ekcert_wrap(X509 *x, struct ks_ekcert **ret);

/* Does the buffer start (after white space) with a PEM header? */
bool ks_ekcert_is_pem(const uint8_t *buf, size_t len);

/* A name in RFC 2253 form, printable ASCII, truncated to size - 1. */
void ks_ekcert_name(const X509_NAME *name, char *out, size_t size);

/* ASN.1 time as Unix seconds. KS_ERR_EKCERT_PARSE. */
KS_WUR int ks_ekcert_time(const ASN1_TIME *t, int64_t *ret);

#endif
