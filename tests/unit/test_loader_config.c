/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include "loader-ref/loader_config.h"

/* ks-loader's configuration file: every key, the defaults, every refusal
 * with the line it names. */

#define BASE                                                                                       \
    "keyserver = https://keys.example:8443\n"                                                      \
    "receipt_key = AAECAw==\n"                                                                     \
    "request_key = req\n"                                                                          \
    "sealed = /var/lib/ks/model.sealed\n"                                                          \
    "socket = /run/ks-loader.sock\n"

static int parse(const char *text, struct ks_loader_config *c, char *err)
{
    return ks_loader_config_parse(text, strlen(text), c, err, 200);
}

static void test_minimal_defaults(void **state)
{
    (void)state;
    struct ks_loader_config c;
    char err[200];
    assert_int_equal(parse(BASE, &c, err), KS_OK);
    assert_string_equal(c.keyserver, "https://keys.example:8443");
    assert_int_equal(c.receipt_key_len, 4);
    assert_memory_equal(c.receipt_key, "\0\1\2\3", 4);
    assert_string_equal(c.request_key, "req");
    assert_string_equal(c.sealed, "/var/lib/ks/model.sealed");
    assert_string_equal(c.socket, "/run/ks-loader.sock");
    assert_string_equal(c.backend, "auto");
    assert_null(c.cacert);
    assert_null(c.dek);
    assert_null(c.pcrs);
    assert_null(c.ak_dir);
    assert_int_equal(c.ek_kind, KS_TPM_EK_RSA2048);
    assert_true(c.ek_cert);
    assert_false(c.allow_unlocked);
    assert_false(c.insecure_http);
    assert_true(c.request_cbor);
    assert_int_equal(c.egress_bytes, 1024 * 1024);
    assert_int_equal(c.egress_window, 60);
    assert_int_equal(c.replay_window, 300);
    assert_int_equal(c.replay_cache, 65536);
    assert_int_equal(c.max_connections, 16);
    assert_int_equal(c.idle_timeout, 30);
    assert_int_equal(c.unseal_threads, 2);
    assert_int_equal(c.socket_mode, 0660);
    ks_loader_config_clear(&c);
    assert_null(c.keyserver);
    ks_loader_config_clear(NULL);
}

static void test_every_key(void **state)
{
    (void)state;
    struct ks_loader_config c;
    char err[200];
    static const char text[] = "# a comment\n"
                               "\n" BASE "cacert = /etc/ks/ca.pem\n"
                               "tls_pin = sha256//AAAA\n"
                               "  dek   =   weights@3  \r\n"
                               "pcrs = sha256:0-7,15\n"
                               "event_log = /sys/kernel/security/tpm0/binary_bios_measurements\n"
                               "ima_log = /sys/kernel/security/ima/binary_runtime_measurements\n"
                               "ek = ecc384\n"
                               "ek_cert = no\n"
                               "ak_dir = /tmp/ak\n"
                               "backend = cpu\n"
                               "unseal_threads = 8\n"
                               "allow_unlocked = yes\n"
                               "socket_mode = 0600\n"
                               "max_connections = 4\n"
                               "idle_timeout = 5\n"
                               "egress_bytes = 64K\n"
                               "egress_window = 3600\n"
                               "replay_window = 30\n"
                               "replay_cache = 1M\n";
    assert_int_equal(parse(text, &c, err), KS_OK);
    assert_string_equal(c.cacert, "/etc/ks/ca.pem");
    assert_string_equal(c.tls_pin, "sha256//AAAA");
    assert_string_equal(c.dek, "weights@3");
    assert_string_equal(c.pcrs, "sha256:0-7,15");
    assert_string_equal(c.ak_dir, "/tmp/ak");
    assert_int_equal(c.ek_kind, KS_TPM_EK_ECC384);
    assert_false(c.ek_cert);
    assert_string_equal(c.backend, "cpu");
    assert_int_equal(c.unseal_threads, 8);
    assert_true(c.allow_unlocked);
    assert_int_equal(c.socket_mode, 0600);
    assert_int_equal(c.max_connections, 4);
    assert_int_equal(c.idle_timeout, 5);
    assert_int_equal(c.egress_bytes, 65536);
    assert_int_equal(c.egress_window, 3600);
    assert_int_equal(c.replay_window, 30);
    assert_int_equal(c.replay_cache, 1024 * 1024);
    ks_loader_config_clear(&c);
    /* Plain HTTP only when asked for. */
    assert_int_equal(parse("keyserver = http://127.0.0.1:1\ninsecure_http = yes\n"
                           "receipt_key = AA==\nrequest_key = r\nsealed = s\nsocket = k\n",
                           &c, err),
                     KS_OK);
    assert_true(c.insecure_http);
    ks_loader_config_clear(&c);
}

static void test_refused(void **state)
{
    (void)state;
    struct ks_loader_config c;
    char err[200];
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {BASE "colour = blue\n", "line 6: unknown key 'colour'"},
        {BASE "socket = /again\n", "line 6: 'socket' set twice"},
        {BASE "backend\n", "line 6: expected key = value"},
        {BASE "backend =\n", "line 6: 'backend' has no value"},
        {BASE "egress_bytes = lots\n", "line 6: egress_bytes: expected a number"},
        {BASE "egress_bytes = 0\n", "line 6: egress_bytes: expected 1.."},
        {BASE "egress_bytes = 10T\n", "line 6: egress_bytes: expected a number"},
        {BASE "egress_bytes = -1\n", "line 6: egress_bytes: expected a number"},
        {BASE "max_connections = 1025\n", "line 6: max_connections: expected 1..1024"},
        {BASE "unseal_threads = 65\n", "line 6: unseal_threads: expected 1..64"},
        {BASE "socket_mode = 660\n", "line 6: socket_mode: expected an octal mode"},
        {BASE "socket_mode = 01777\n", "line 6: socket_mode: expected 0..511"},
        {BASE "allow_unlocked = maybe\n", "line 6: allow_unlocked: expected yes or no"},
        {BASE "dek = two words\n", "line 6: dek: expected NAME or NAME@VERSION"},
        {BASE "dek = w@0\n", "line 6: dek: expected NAME or NAME@VERSION"},
        {BASE "pcrs = sha256:24\n", "line 6: pcrs: expected a selection"},
        {BASE "ek = dsa\n", "line 6: ek: expected rsa, ecc, ecc256 or ecc384"},
        {BASE "request_encoding = xml\n", "line 6: request_encoding: expected cbor or json"},
        {BASE "request_encoding = CBOR\n", "line 6: request_encoding: expected cbor or json"},
        {BASE "request_encoding = json\nrequest_encoding = json\n",
         "line 7: 'request_encoding' set twice"},
        {"keyserver = ftp://x\n", "line 1: keyserver: expected an https:// URL"},
        {"receipt_key = !!\n", "line 1: receipt_key: expected base64"},
        {"keyserver = https://k\nreceipt_key = AA==\nrequest_key = r\nsealed = s\n",
         "'socket' is required"},
        {"keyserver = http://k\nreceipt_key = AA==\nrequest_key = r\nsealed = s\nsocket = k\n",
         "keyserver: plain http:// needs insecure_http = yes"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int r = parse(bad[i].text, &c, err);
        if (r != KS_ERR_LOADER_CONFIG || strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0) {
            fail_msg("case %zu: %d '%s', want '%s'", i, r, err, bad[i].msg);
        }
    }
    static const char nul[] = "keyserver = https://k\0\n";
    assert_int_equal(ks_loader_config_parse(nul, sizeof(nul) - 1, &c, err, sizeof(err)),
                     KS_ERR_LOADER_CONFIG);
    assert_int_equal(ks_loader_config_parse(BASE, KS_LOADER_CONFIG_MAX + 1, &c, err, sizeof(err)),
                     KS_ERR_LOADER_CONFIG);
    assert_int_equal(ks_loader_config_parse(NULL, 0, &c, err, sizeof(err)), KS_ERR_INVALID_ARG);
}

/* [keyserver NAME] sections after the top-level keys: the share
 * keyservers, in file order, each with its own options. */
static void test_keyserver_sections(void **state)
{
    (void)state;
    struct ks_loader_config c;
    char err[200];
    static const char text[] = BASE "\n"
                                    "[keyserver ks-b]\n"
                                    "url = https://127.0.0.1:8444\n"
                                    "receipt_key = BAUG\n"
                                    "# a comment inside a section\n"
                                    "\n"
                                    "  [ keyserver   Ks_c.2 ]  \n"
                                    "url = http://127.0.0.1:8445\n"
                                    "cacert = /etc/ks/c.pem\n"
                                    "tls_pin = sha256//BBBB\n"
                                    "insecure_http = yes\n"
                                    "receipt_key = BwgJCg==\n";
    assert_int_equal(parse(text, &c, err), KS_OK);
    /* The top level is the primary keyserver, untouched by the sections. */
    assert_string_equal(c.keyserver, "https://keys.example:8443");
    assert_int_equal(c.receipt_key_len, 4);
    assert_memory_equal(c.receipt_key, "\0\1\2\3", 4);
    assert_null(c.cacert);
    assert_false(c.insecure_http);
    assert_int_equal(c.n_share_servers, 2);
    const struct ks_loader_keyserver *b = &c.share_servers[0], *k = &c.share_servers[1];
    assert_string_equal(b->name, "ks-b");
    assert_string_equal(b->url, "https://127.0.0.1:8444");
    assert_null(b->cacert);
    assert_null(b->tls_pin);
    assert_false(b->insecure_http);
    assert_int_equal(b->receipt_key_len, 3);
    assert_memory_equal(b->receipt_key, "\4\5\6", 3);
    assert_string_equal(k->name, "Ks_c.2");
    assert_string_equal(k->url, "http://127.0.0.1:8445");
    assert_string_equal(k->cacert, "/etc/ks/c.pem");
    assert_string_equal(k->tls_pin, "sha256//BBBB");
    assert_true(k->insecure_http);
    assert_int_equal(k->receipt_key_len, 4);
    assert_memory_equal(k->receipt_key, "\7\10\11\12", 4);
    ks_loader_config_clear(&c);
    assert_int_equal(c.n_share_servers, 0);
    assert_null(c.share_servers[0].url);
    /* No sections: none. */
    assert_int_equal(parse(BASE, &c, err), KS_OK);
    assert_int_equal(c.n_share_servers, 0);
    ks_loader_config_clear(&c);
}

/* request_encoding: cbor by default; a section takes the top-level value
 * unless it sets its own. */
static void test_request_encoding(void **state)
{
    (void)state;
    struct ks_loader_config c;
    char err[200];
#define SEC(name, extra) "[keyserver " name "]\nurl = https://" name "\nreceipt_key = AA==\n" extra
    assert_int_equal(parse(BASE "request_encoding = json\n", &c, err), KS_OK);
    assert_false(c.request_cbor);
    ks_loader_config_clear(&c);
    assert_int_equal(parse(BASE "request_encoding = cbor\n", &c, err), KS_OK);
    assert_true(c.request_cbor);
    ks_loader_config_clear(&c);

    /* Default cbor: a section without the key is cbor, one may say json. */
    assert_int_equal(
        parse(BASE SEC("a", "") SEC("b", "request_encoding = json\n") SEC("c", ""), &c, err),
        KS_OK);
    assert_true(c.request_cbor);
    assert_int_equal(c.n_share_servers, 3);
    assert_true(c.share_servers[0].request_cbor);
    assert_false(c.share_servers[1].request_cbor);
    assert_true(c.share_servers[2].request_cbor);
    ks_loader_config_clear(&c);

    /* Top-level json: the sections follow it unless they say cbor. */
    assert_int_equal(parse(BASE "request_encoding = json\n" SEC("a", "")
                               SEC("b", "request_encoding = cbor\n") SEC("c", ""),
                           &c, err),
                     KS_OK);
    assert_false(c.request_cbor);
    assert_false(c.share_servers[0].request_cbor);
    assert_true(c.share_servers[1].request_cbor);
    assert_false(c.share_servers[2].request_cbor);
    ks_loader_config_clear(&c);
#undef SEC
}

/* Sixteen sections, named up to 32 characters, and not one more. */
static void test_keyserver_sections_limits(void **state)
{
    (void)state;
    struct ks_loader_config c;
    char err[200], text[4096];
    size_t off = (size_t)snprintf(text, sizeof(text), "%s", BASE);
    for (int i = 0; i < KS_LOADER_MAX_KEYSERVERS; i++) {
        off += (size_t)snprintf(text + off, sizeof(text) - off,
                                "[keyserver ks-%02d-abcdefghijklmnopqrstuvwxyz]\n"
                                "url = https://k%d\nreceipt_key = AA==\n",
                                i, i);
    }
    assert_int_equal(parse(text, &c, err), KS_OK);
    assert_int_equal(c.n_share_servers, KS_LOADER_MAX_KEYSERVERS);
    assert_int_equal(strlen(c.share_servers[15].name), KS_LOADER_KEYSERVER_NAME_MAX);
    assert_string_equal(c.share_servers[15].name, "ks-15-abcdefghijklmnopqrstuvwxyz");
    assert_string_equal(c.share_servers[15].url, "https://k15");
    ks_loader_config_clear(&c);
    snprintf(text + off, sizeof(text) - off, "[keyserver one-more]\nurl = https://x\n");
    err[0] = '\0';
    assert_int_equal(parse(text, &c, err), KS_ERR_LOADER_CONFIG);
    assert_string_equal(err, "line 54: more than 16 [keyserver] sections");
}

static void test_keyserver_sections_refused(void **state)
{
    (void)state;
    struct ks_loader_config c;
    char err[200];
#define SEC "[keyserver ks-b]\nurl = https://b\nreceipt_key = AA==\n"
    static const struct {
        const char *text, *msg;
    } bad[] = {
        /* BASE is lines 1-5; the section header is line 6. */
        {BASE "[keyserver ks-b]\nurl = https://b\n",
         "line 6: [keyserver ks-b]: 'receipt_key' is required"},
        {BASE "[keyserver ks-b]\nreceipt_key = AA==\n",
         "line 6: [keyserver ks-b]: 'url' is required"},
        {BASE "[keyserver ks-b]\n", "line 6: [keyserver ks-b]: 'url' is required"},
        /* A section that misses a key is reported when the next one starts. */
        {BASE "[keyserver ks-b]\nurl = https://b\n[keyserver ks-c]\n",
         "line 6: [keyserver ks-b]: 'receipt_key' is required"},
        {BASE SEC "colour = blue\n", "line 9: unknown key 'colour' in [keyserver ks-b]"},
        /* Top-level keys do not go after a section. */
        {BASE SEC "dek = weights\n", "line 9: unknown key 'dek' in [keyserver ks-b]"},
        {BASE SEC "url = https://again\n", "line 9: 'url' set twice"},
        {BASE SEC "receipt_key = AA==\n", "line 9: 'receipt_key' set twice"},
        {BASE SEC "cacert = a\ncacert = b\n", "line 10: 'cacert' set twice"},
        {BASE SEC "tls_pin =\n", "line 9: 'tls_pin' has no value"},
        {BASE SEC "insecure_http = perhaps\n", "line 9: insecure_http: expected yes or no"},
        {BASE SEC "request_encoding = yes\n", "line 9: request_encoding: expected cbor or json"},
        {BASE SEC "request_encoding = json\nrequest_encoding = cbor\n",
         "line 10: 'request_encoding' set twice"},
        /* After a section, the top-level key would be that section's. */
        {BASE SEC "request_encoding = json\n[keyserver ks-c]\nurl = https://c\n"
                  "receipt_key = AA==\nrequest_encoding = json\nrequest_encoding = json\n",
         "line 14: 'request_encoding' set twice"},
        {BASE "[keyserver ks-b]\nurl = ftp://b\n", "line 7: url: expected an https:// URL"},
        {BASE "[keyserver ks-b]\nreceipt_key = !!\n", "line 7: receipt_key: expected base64"},
        {BASE "[keyserver ks-b]\nurl = http://b\nreceipt_key = AA==\n",
         "line 6: [keyserver ks-b]: plain http:// needs insecure_http = yes"},
        {BASE SEC "[keyserver ks-b]\n", "line 9: [keyserver ks-b] appears twice"},
        {BASE "[keyserver]\n", "line 6: expected [keyserver NAME]"},
        {BASE "[keyserver ks-b\n", "line 6: expected [keyserver NAME]"},
        {BASE "[keyservers ks-b]\n", "line 6: expected [keyserver NAME]"},
        {BASE "[primary]\n", "line 6: expected [keyserver NAME]"},
        {BASE "[keyserver ks b]\n", "line 6: keyserver name 'ks b': expected [A-Za-z0-9._-]{1,32}"},
        {BASE "[keyserver ks/b]\n", "line 6: keyserver name 'ks/b': expected"},
        {BASE "[keyserver abcdefghijklmnopqrstuvwxyz0123456]\n",
         "line 6: keyserver name 'abcdefghijklmnopqrstuvwxyz0123456': expected"},
        {BASE SEC "keyserver\n", "line 9: expected key = value"},
        /* The top level must still be complete. */
        {"keyserver = https://k\nreceipt_key = AA==\nrequest_key = r\nsealed = s\n" SEC,
         "'socket' is required"},
    };
#undef SEC
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int r = parse(bad[i].text, &c, err);
        if (r != KS_ERR_LOADER_CONFIG || strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0) {
            fail_msg("case %zu: %d '%s', want '%s'", i, r, err, bad[i].msg);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_keyserver_sections),
        cmocka_unit_test(test_request_encoding),
        cmocka_unit_test(test_keyserver_sections_limits),
        cmocka_unit_test(test_keyserver_sections_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
