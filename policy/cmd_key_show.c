/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "encoding.h"
#include "policy/cmd_ops.h"
#include "policy/ksctl.h"
#include "policy/ksctl_db.h"

/* `ksctl key show|public`: what the store knows of a key, never its
 * material; the public half of a request (HPKE) key. */

enum pub_format { PUB_ALL, PUB_PEM, PUB_BASE64, PUB_JSON };

struct show_opts {
    struct ksctl_db_opts db;
    bool public; /* key public, else key show */
    bool json;
    enum pub_format format;
    int formats; /* how many format options were given */
    const char *arg;
};

static void usage_sub(FILE *f, bool public)
{
    if (public) {
        fprintf(f, "Usage: ksctl key public NAME[@N] [--pem | --base64 | --json] [--db PATH]\n\n"
                   "Print the public half of request (HPKE) key NAME, its active version or\n"
                   "version N: the raw 32-byte X25519 key in base64 and as a PEM\n"
                   "SubjectPublicKeyInfo (RFC 8410), with the policy that guards it. A retired\n"
                   "version is refused.\n\n"
                   "  --pem                 print only the PEM (e.g. for openssl pkey -pubin)\n"
                   "  --base64              print only the raw key in base64\n"
                   "  --json                print name, version, state, policy, policy_version,\n"
                   "                        public_key (base64) and pem\n");
    } else {
        fprintf(f, "Usage: ksctl key show NAME [--json] [--db PATH]\n\n"
                   "Show key NAME: kind, policy (and its active version), creation, the last\n"
                   "granted release that named it, and each version with its state (active,\n"
                   "previous: releasable as NAME@N, retired: never released, material\n"
                   "erased), times, share metadata and, for hpke keys, the public key. Key\n"
                   "material is never shown.\n\n"
                   "  --json                print a JSON object\n");
    }
    fprintf(f, KSCTL_DB_HELP "  --help                this text\n");
}

static int show_opt(void *ctx, const char *cmd, int c, const char *arg)
{
    struct show_opts *o = ctx;
    (void)cmd;
    (void)arg;
    o->formats++;
    o->json = c == 'j';
    o->format = c == 'j' ? PUB_JSON : c == 'P' ? PUB_PEM : PUB_BASE64;
    return 0;
}

static void show_usage(FILE *f, void *ctx)
{
    usage_sub(f, ((const struct show_opts *)ctx)->public);
}

static int parse(int argc, char **argv, bool public, struct show_opts *o)
{
    static const struct option longopts[] = {
        KSCTL_DB_LONGOPTS,
        {"json", no_argument, NULL, 'j'},
        {"pem", no_argument, NULL, 'P'},
        {"base64", no_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = public ? "key public" : "key show";
    int nargs = 0;
    char **args = NULL;
    memset(o, 0, sizeof(*o));
    ksctl_db_opts_init(&o->db);
    o->public = public;
    /* The arguments are counted below, after the formats. */
    const struct ksctl_getopt g = {
        .cmd = cmd,
        .longopts = longopts,
        .db = &o->db,
        .allowed = public ? "jPB" : "j",
        .min_args = 0,
        .max_args = INT_MAX,
        .opt = show_opt,
        .usage = show_usage,
        .ctx = o,
    };
    int ret = ksctl_getopt(argc, argv, &g, &nargs, &args);
    if (ret >= 0) {
        return ret;
    }
    if (public && o->formats > 1) {
        ksctl_err("%s: --pem, --base64 and --json exclude each other", cmd);
        return 2;
    }
    if (nargs != 1) {
        ksctl_err("%s: expected one key %s", cmd, public ? "NAME[@N]" : "NAME");
        usage_sub(stderr, public);
        return 2;
    }
    o->arg = args[0];
    return -1;
}

static json_t *time_json(int64_t t)
{
    char s[32];
    ksctl_format_time(t, s);
    return t ? json_string(s) : json_null();
}

static json_t *detail_json(const struct ks_store_key_detail *kd)
{
    json_t *o = json_object();
    json_t *vs = json_array();
    if (!o || !vs) {
        json_decref(o);
        json_decref(vs);
        return NULL;
    }
    json_object_set_new(o, "name", json_string(kd->info.name));
    json_object_set_new(o, "kind", json_string(ks_key_kind_name(kd->info.kind)));
    json_object_set_new(o, "policy", json_string(kd->info.policy));
    json_object_set_new(o, "policy_version",
                        kd->policy_version ? json_integer(kd->policy_version) : json_null());
    json_object_set_new(o, "active_version",
                        kd->info.active_version ? json_integer(kd->info.active_version)
                                                : json_null());
    json_object_set_new(o, "created_at", json_integer(kd->info.created_at));
    json_object_set_new(o, "created", time_json(kd->info.created_at));
    json_object_set_new(o, "created_by", json_string(kd->created_by));
    json_object_set_new(o, "last_released_at",
                        kd->last_granted_at ? json_integer(kd->last_granted_at) : json_null());
    json_object_set_new(o, "last_released_seq",
                        kd->last_granted_seq ? json_integer(kd->last_granted_seq) : json_null());
    for (size_t i = 0; i < kd->n_versions; i++) {
        const struct ks_store_key_version_info *v = &kd->versions[i];
        char hex[2 * sizeof(v->public_key) + 1];
        json_t *j = json_object();
        json_object_set_new(j, "version", json_integer(v->version));
        json_object_set_new(j, "state", json_string(ks_key_version_state_name(v->state)));
        json_object_set_new(j, "created_at", json_integer(v->created_at));
        json_object_set_new(j, "created_by", json_string(v->created_by));
        json_object_set_new(j, "replaced_at",
                            v->replaced_at ? json_integer(v->replaced_at) : json_null());
        json_object_set_new(j, "retired_at",
                            v->retired_at ? json_integer(v->retired_at) : json_null());
        json_object_set_new(j, "retired_by",
                            v->retired_by[0] ? json_string(v->retired_by) : json_null());
        if (v->has_public) {
            ks_hex_encode(v->public_key, sizeof(v->public_key), hex);
        }
        json_object_set_new(j, "public_key", v->has_public ? json_string(hex) : json_null());
        json_object_set_new(j, "share",
                            v->share_count
                                ? json_pack("{s:i, s:i, s:i}", "index", v->share_index, "threshold",
                                            v->share_threshold, "count", v->share_count)
                                : json_null());
        json_array_append_new(vs, j);
    }
    json_object_set_new(o, "versions", vs);
    return o;
}

static void detail_text(const struct ks_store_key_detail *kd)
{
    char t[32];
    printf("key %s (%s), policy %s ", kd->info.name, ks_key_kind_name(kd->info.kind),
           kd->info.policy);
    if (kd->policy_version) {
        printf("(active version %" PRIu32 ")\n", kd->policy_version);
    } else {
        printf("(no active version: every release is refused)\n");
    }
    ksctl_format_time(kd->info.created_at, t);
    printf("created %s by ", t);
    ksctl_print_safe(stdout, kd->created_by);
    ksctl_format_time(kd->last_granted_at, t);
    if (kd->last_granted_at) {
        printf("; last released %s (audit seq %" PRId64 ")\n", t, kd->last_granted_seq);
    } else {
        printf("; never released\n");
    }
    printf("%7s  %-8s  %-20s  %-20s  %-20s  %s\n", "VERSION", "STATE", "CREATED", "REPLACED",
           "RETIRED", "SHARE");
    for (size_t i = 0; i < kd->n_versions; i++) {
        const struct ks_store_key_version_info *v = &kd->versions[i];
        char c[32], rp[32], rt[32], share[16] = "-";
        ksctl_format_time(v->created_at, c);
        ksctl_format_time(v->replaced_at, rp);
        ksctl_format_time(v->retired_at, rt);
        if (v->share_count) {
            snprintf(share, sizeof(share), "%u/%u/%u", v->share_index, v->share_threshold,
                     v->share_count);
        }
        printf("%7" PRIu32 "  %-8s  %-20s  %-20s  %-20s  %s\n", v->version,
               ks_key_version_state_name(v->state), c, rp, rt, share);
        if (v->has_public) {
            char hex[2 * sizeof(v->public_key) + 1];
            ks_hex_encode(v->public_key, sizeof(v->public_key), hex);
            printf("%7s  public key (X25519) %s\n", "", hex);
        }
    }
}

int ksctl_key_show(int argc, char **argv)
{
    struct show_opts o;
    struct ksctl_db d;
    struct ks_store_key_detail *kd = NULL;
    int ret = parse(argc, argv, false, &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    if (!ks_store_name_valid(o.arg)) {
        ksctl_err("key show: key name must match [A-Za-z0-9._-]{1,64}: '%s'", o.arg);
        return 2;
    }
    int r = ksctl_db_open(&d, &o.db, "key show", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
    } else if ((r = ks_store_key_show(d.store, o.arg, &kd)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    } else if (o.json) {
        if ((r = ksctl_print_json(detail_json(kd))) < 0) {
            ret = ksctl_db_fail(&d, r, NULL);
        }
    } else {
        detail_text(kd);
    }
    ks_store_key_detail_free(kd);
    ksctl_db_close(&d);
    return ret;
}

/* PEM SubjectPublicKeyInfo of a raw X25519 public key (RFC 8410, 4). */
static int x25519_pem(const uint8_t pk[32], char **ret)
{
    int r = KS_ERR_CRYPTO;
    BIO *bio = NULL;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pk, 32);
    char *data = NULL;
    if (!pkey || !(bio = BIO_new(BIO_s_mem())) || PEM_write_bio_PUBKEY(bio, pkey) != 1) {
        goto out;
    }
    long n = BIO_get_mem_data(bio, &data);
    char *s = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    *ret = s;
    r = KS_OK;
out:
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return r;
}

static int print_public(const struct show_opts *o, const struct ks_store_key_public *pub,
                        enum ks_key_version_state state)
{
    char *b64 = NULL, *pem = NULL;
    int r = ks_base64_encode(pub->public_key, sizeof(pub->public_key), &b64);
    if (r < 0 || (r = x25519_pem(pub->public_key, &pem)) < 0) {
        goto out;
    }
    switch (o->format) {
    case PUB_PEM:
        fputs(pem, stdout);
        break;
    case PUB_BASE64:
        printf("%s\n", b64);
        break;
    case PUB_JSON:
        r = ksctl_print_json(
            json_pack("{s:s, s:I, s:s, s:s, s:o, s:s, s:s}", "name", pub->name, "version",
                      (json_int_t)pub->version, "state", ks_key_version_state_name(state), "policy",
                      pub->policy, "policy_version",
                      pub->policy_version ? json_integer(pub->policy_version) : json_null(),
                      "public_key", b64, "pem", pem));
        break;
    default:
        printf("key %s version %" PRIu32 " (%s), policy %s", pub->name, pub->version,
               ks_key_version_state_name(state), pub->policy);
        if (pub->policy_version) {
            printf(" version %" PRIu32 "\n", pub->policy_version);
        } else {
            printf(" (no active version)\n");
        }
        printf("X25519 public key (base64): %s\n%s", b64, pem);
        break;
    }
out:
    free(b64);
    free(pem);
    return r;
}

int ksctl_key_public(int argc, char **argv)
{
    struct show_opts o;
    struct ksctl_db d;
    struct ks_store_key_detail *kd = NULL;
    struct ks_store_key_public pub;
    char name[KS_STORE_NAME_MAX + 1];
    uint32_t v = 0;
    int ret = parse(argc, argv, true, &o);
    if (ret >= 0) {
        return ret;
    }
    ret = 0;
    if (!ksctl_key_ref_parse(o.arg, name, &v)) {
        ksctl_err("key public: expected NAME or NAME@VERSION, not '%s'", o.arg);
        return 2;
    }
    int r = ksctl_db_open(&d, &o.db, "key public", 0);
    if (r < 0) {
        ret = ks_error_exit_code(r);
        goto out;
    }
    if ((r = ks_store_key_public_get(d.store, name, v, &pub)) < 0) {
        if (r == KS_ERR_STORE_UNKNOWN_KEY) {
            ret = ksctl_db_fail(&d, r, "unknown key %s", o.arg);
        } else if (r == KS_ERR_INVALID_ARG) {
            ret = ksctl_db_fail(&d, r,
                                "key %s is not a request (hpke) key: a dek has no "
                                "public half",
                                name);
        } else {
            ret = ksctl_db_fail(&d, r, NULL);
        }
        goto out;
    }
    if ((r = ks_store_key_show(d.store, name, &kd)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
        goto out;
    }
    enum ks_key_version_state state = KS_KEY_VERSION_RETIRED;
    for (size_t i = 0; i < kd->n_versions; i++) {
        if (kd->versions[i].version == pub.version) {
            state = kd->versions[i].state;
        }
    }
    if (state == KS_KEY_VERSION_RETIRED) {
        ret = ksctl_db_fail(&d, KS_ERR_STORE_STATE,
                            "%s@%" PRIu32 " is retired: nothing encrypted to it can be opened",
                            name, pub.version);
        goto out;
    }
    if ((r = print_public(&o, &pub, state)) < 0) {
        ret = ksctl_db_fail(&d, r, NULL);
    }
out:
    ks_store_key_detail_free(kd);
    ksctl_db_close(&d);
    return ret;
}
