/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_CONFIG_H
#define KS_LOADER_CONFIG_H

/*
 * ks-loader's configuration file (man ks-loader(8), "CONFIGURATION"):
 * "key = value" lines, '#' comment lines, blank lines. Every key at most
 * once, no unknown key. ks-launch measures the file's exact bytes into the
 * application PCR, so everything that decides what the loader trusts is
 * here: the keyserver, its TLS anchor, the pinned receipt key, the keys,
 * the egress budget.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"
#include "tpm_ek.h"

#define KS_LOADER_CONFIG_MAX (64u * 1024)
#define KS_LOADER_DEFAULT_BACKEND "auto"
#define KS_LOADER_DEFAULT_EGRESS_BYTES (1024u * 1024)
#define KS_LOADER_DEFAULT_EGRESS_WINDOW 60u
#define KS_LOADER_DEFAULT_REPLAY_WINDOW 300u
#define KS_LOADER_DEFAULT_REPLAY_CACHE 65536u
#define KS_LOADER_DEFAULT_MAX_CONNECTIONS 16u
#define KS_LOADER_DEFAULT_IDLE_TIMEOUT 30u
#define KS_LOADER_DEFAULT_UNSEAL_THREADS 2u
#define KS_LOADER_DEFAULT_SOCKET_MODE 0660u
/* [keyserver NAME] sections: names [A-Za-z0-9._-]{1,32}, at most 16. */
#define KS_LOADER_KEYSERVER_NAME_MAX 32
#define KS_LOADER_MAX_KEYSERVERS 16

/* A keyserver asked for a key share when the primary's DEK is one share of
 * a k-of-n split (man ks-loader(8), "KEY SHARES"). */
struct ks_loader_keyserver {
    char name[KS_LOADER_KEYSERVER_NAME_MAX + 1];
    char *url;     /* base URL, https:// */
    char *cacert;  /* PEM file; NULL: the system store */
    char *tls_pin; /* "sha256//BASE64"; NULL: none */
    bool insecure_http;
    uint8_t *receipt_key; /* its pinned SubjectPublicKeyInfo DER (decoded) */
    size_t receipt_key_len;
    bool request_cbor; /* request_encoding: default, the top-level value */
};

struct ks_loader_config {
    /* the keyserver */
    char *keyserver; /* base URL, https:// */
    char *cacert;    /* PEM file; NULL: the system store */
    char *tls_pin;   /* "sha256//BASE64"; NULL: none */
    bool insecure_http;
    uint8_t *receipt_key; /* pinned SubjectPublicKeyInfo DER (decoded) */
    size_t receipt_key_len;
    bool request_cbor; /* request_encoding = cbor (default) | json */
    /* what to ask for */
    char *request_key;           /* NAME or NAME@VERSION (an HPKE key) */
    char *dek;                   /* NAME or NAME@VERSION; NULL: the sealed file's */
    char *pcrs;                  /* quote selection; NULL: sha256:0-7 and the app PCR */
    char *event_log;             /* firmware log sent along; NULL: none */
    char *ima_log;               /* IMA log sent along; NULL: none */
    enum ks_tpm_ek_kind ek_kind; /* the EK the AK is enrolled with (default rsa) */
    bool ek_cert;                /* send the EK certificate (default yes) */
    char *ak_dir;                /* TEST ONLY: an admin-registered AK saved by ks-attest */
    /* the model */
    char *sealed;
    char *backend;
    unsigned unseal_threads;
    bool allow_unlocked;
    /* the socket */
    char *socket;
    unsigned socket_mode;
    unsigned max_connections;
    unsigned idle_timeout;
    uint64_t egress_bytes, egress_window;
    uint64_t replay_window;
    size_t replay_cache;
    /* the share keyservers, in file order */
    struct ks_loader_keyserver share_servers[KS_LOADER_MAX_KEYSERVERS];
    size_t n_share_servers;
};

/* Parse (text need not be NUL-terminated). The top-level keys come first;
 * then optional "[keyserver NAME]" sections, each with url and receipt_key
 * (required), cacert, tls_pin, insecure_http, request_encoding (default:
 * the top-level one): every key at most once per
 * section, nothing else. KS_ERR_LOADER_CONFIG with a message naming the
 * line in err. Clear the result with ks_loader_config_clear(). */
KS_WUR int ks_loader_config_parse(const char *text, size_t len, struct ks_loader_config *ret,
                                  char *err, size_t errlen);

/* Free every string and zero *cfg. NULL is a no-op. */
void ks_loader_config_clear(struct ks_loader_config *cfg);

#endif
