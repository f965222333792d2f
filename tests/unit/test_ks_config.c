/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <unistd.h>

#include "keyserverd/ks_config.h"

static int setup(void **state)
{
    struct ks_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg || ks_config_init(cfg) != KS_OK) {
        free(cfg);
        return -1;
    }
    *state = cfg;
    return 0;
}

static int teardown(void **state)
{
    ks_config_free(*state);
    free(*state);
    return 0;
}

static int parse(struct ks_config *cfg, const char *text, char *err, size_t errlen)
{
    err[0] = '\0';
    return ks_config_parse_buffer(cfg, text, strlen(text), err, errlen);
}

static void test_defaults(void **state)
{
    struct ks_config *cfg = *state;
    assert_string_equal(cfg->listen_host, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 8443);
    assert_null(cfg->port_file);
    assert_null(cfg->tls_cert);
    assert_null(cfg->tls_key);
    assert_false(cfg->plain_http);
    assert_string_equal(cfg->db, "/var/lib/keyserver/keyserver.db");
    assert_string_equal(cfg->master_key, "/etc/keyserver/master.key");
    assert_int_equal(cfg->max_body, 1024 * 1024);
    assert_int_equal(cfg->max_connections, 1024);
    assert_int_equal(cfg->connection_timeout, 30);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(cfg->threads, cores < 1 ? 1 : cores);
    assert_int_equal(cfg->nonce_lifetime, 60);
    assert_int_equal(cfg->rate_limit, 50);
    assert_int_equal(cfg->rate_burst, 100);
    assert_int_equal(cfg->log, KS_LOG_STDERR);
    assert_int_equal(cfg->policy_cache_versions, 64);
    assert_int_equal(cfg->policy_cache_rules, 524288);
}

/* Every key, with comments, blank lines and blanks around '='. */
static void test_every_key(void **state)
{
    struct ks_config *cfg = *state;
    char err[256];
    const char *text = "# keyserverd.conf\n"
                       "\n"
                       "listen = 0.0.0.0:9443\n"
                       "port_file=/run/ks.port\n"
                       "  tls_cert\t=  /etc/ks/cert.pem  \n"
                       "tls_key = /etc/ks/key#1.pem\n"
                       "plain_http = no\n"
                       "db = /tmp/ks.db\n"
                       "master_key = /tmp/master.key\r\n"
                       "   # indented comment\n"
                       "max_body = 64K\n"
                       "max_connections = 10\n"
                       "connection_timeout = 5\n"
                       "threads = 3\n"
                       "nonce_lifetime = 120\n"
                       "rate_limit = 0\n"
                       "rate_burst = 7\n"
                       "policy_cache_versions = 8\n"
                       "policy_cache_rules = 1000\n"
                       "log = syslog"; /* no final newline */
    assert_int_equal(parse(cfg, text, err, sizeof(err)), KS_OK);
    assert_string_equal(cfg->listen_host, "0.0.0.0");
    assert_int_equal(cfg->listen_port, 9443);
    assert_string_equal(cfg->port_file, "/run/ks.port");
    assert_string_equal(cfg->tls_cert, "/etc/ks/cert.pem");
    assert_string_equal(cfg->tls_key, "/etc/ks/key#1.pem"); /* '#' inside a value */
    assert_false(cfg->plain_http);
    assert_string_equal(cfg->db, "/tmp/ks.db");
    assert_string_equal(cfg->master_key, "/tmp/master.key");
    assert_int_equal(cfg->max_body, 64 * 1024);
    assert_int_equal(cfg->max_connections, 10);
    assert_int_equal(cfg->connection_timeout, 5);
    assert_int_equal(cfg->threads, 3);
    assert_int_equal(cfg->nonce_lifetime, 120);
    assert_int_equal(cfg->rate_limit, 0);
    assert_int_equal(cfg->rate_burst, 7);
    assert_int_equal(cfg->policy_cache_versions, 8);
    assert_int_equal(cfg->policy_cache_rules, 1000);
    assert_int_equal(cfg->log, KS_LOG_SYSLOG);
    assert_int_equal(ks_config_validate(cfg, err, sizeof(err)), KS_OK);
}

static void test_listen_forms(void **state)
{
    struct ks_config *cfg = *state;
    char err[256];
    assert_int_equal(ks_config_set(cfg, "listen", "[::1]:0", err, sizeof(err)), KS_OK);
    assert_string_equal(cfg->listen_host, "::1");
    assert_int_equal(cfg->listen_port, 0);
    assert_int_equal(ks_config_set(cfg, "listen", "127.0.0.1:65535", err, sizeof(err)), KS_OK);
    assert_int_equal(cfg->listen_port, 65535);
    static const char *const bad[] = {
        "127.0.0.1", "127.0.0.1:",    "127.0.0.1:65536",  "127.0.0.1:-1",     "localhost:8443",
        "::1:8443",  "[::1]8443",     "[127.0.0.1]:80",   "1.2.3:80",         ":8443",
        "[::1]:+1",  "127.0.0.1:80 ", "[fe80::1%eth0]:1", "127.0.0.1:08443x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(ks_config_set(cfg, "listen", bad[i], err, sizeof(err)), KS_ERR_CONFIG);
        assert_non_null(strstr(err, "listen:"));
        /* A failed set leaves the old value. */
        assert_string_equal(cfg->listen_host, "127.0.0.1");
        assert_int_equal(cfg->listen_port, 65535);
    }
}

static void test_bools_and_sizes(void **state)
{
    struct ks_config *cfg = *state;
    char err[256];
    static const char *const yes[] = {"1", "true", "YES", "On"};
    static const char *const no[] = {"0", "false", "no", "OFF"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ks_config_set(cfg, "plain_http", yes[i], err, sizeof(err)), KS_OK);
        assert_true(cfg->plain_http);
        assert_int_equal(ks_config_set(cfg, "plain_http", no[i], err, sizeof(err)), KS_OK);
        assert_false(cfg->plain_http);
    }
    assert_int_equal(ks_config_set(cfg, "plain_http", "maybe", err, sizeof(err)), KS_ERR_CONFIG);
    assert_int_equal(ks_config_set(cfg, "max_body", "2M", err, sizeof(err)), KS_OK);
    assert_int_equal(cfg->max_body, 2 * 1024 * 1024);
    assert_int_equal(ks_config_set(cfg, "max_body", "100", err, sizeof(err)), KS_OK);
    assert_int_equal(cfg->max_body, 100);
    assert_int_equal(ks_config_set(cfg, "max_body", "64M", err, sizeof(err)), KS_OK);
    assert_int_equal(cfg->max_body, 64 * 1024 * 1024);
    static const char *const bad[] = {"65M", "63", "1G", "1.5M",
                                      "-1",  "M",  "",   "99999999999999999999999K"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ks_config_set(cfg, "max_body", bad[i], err, sizeof(err)), KS_ERR_CONFIG);
    }
    assert_int_equal(cfg->max_body, 64 * 1024 * 1024);
}

static void test_numeric_ranges(void **state)
{
    struct ks_config *cfg = *state;
    char err[256];
    struct {
        const char *key, *value;
        int want;
    } cases[] = {
        {"max_connections", "0", KS_ERR_CONFIG},
        {"max_connections", "65536", KS_OK},
        {"max_connections", "65537", KS_ERR_CONFIG},
        {"connection_timeout", "0", KS_ERR_CONFIG},
        {"connection_timeout", "3600", KS_OK},
        {"connection_timeout", "3601", KS_ERR_CONFIG},
        {"threads", "0", KS_ERR_CONFIG},
        {"threads", "256", KS_OK},
        {"threads", "257", KS_ERR_CONFIG},
        {"nonce_lifetime", "0", KS_ERR_CONFIG},
        {"nonce_lifetime", "3601", KS_ERR_CONFIG},
        {"rate_limit", "1000000", KS_OK},
        {"rate_limit", "1000001", KS_ERR_CONFIG},
        {"rate_burst", "0", KS_ERR_CONFIG},
        {"policy_cache_versions", "0", KS_ERR_CONFIG},
        {"policy_cache_versions", "4096", KS_OK},
        {"policy_cache_versions", "4097", KS_ERR_CONFIG},
        {"policy_cache_rules", "0", KS_ERR_CONFIG},
        {"policy_cache_rules", "16777216", KS_OK},
        {"policy_cache_rules", "16777217", KS_ERR_CONFIG},
        {"threads", "+4", KS_ERR_CONFIG},
        {"threads", " 4", KS_ERR_CONFIG},
        {"threads", "4x", KS_ERR_CONFIG},
        {"threads", "0x10", KS_ERR_CONFIG},
        {"log", "file", KS_ERR_CONFIG},
        {"log", "stderr", KS_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        int r = ks_config_set(cfg, cases[i].key, cases[i].value, err, sizeof(err));
        if (r != cases[i].want) {
            fail_msg("%s = '%s': got %d want %d", cases[i].key, cases[i].value, r, cases[i].want);
        }
        if (r != KS_OK) {
            assert_non_null(strstr(err, cases[i].key));
        }
    }
    assert_int_equal(cfg->max_connections, 65536);
    assert_int_equal(cfg->threads, 256);
    assert_int_equal(cfg->log, KS_LOG_STDERR);
}

/* Each bad file names the line. */
static void test_bad_lines(void **state)
{
    struct ks_config *cfg = *state;
    char err[256];
    struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"listen = 127.0.0.1:1\nfoo = bar\n", "line 2: unknown key 'foo'"},
        {"# c\n\njust words\n", "line 3: expected 'key = value'"},
        {"= 5\n", "line 1: missing key before '='"},
        {"threads = 2\nthreads = 3\n", "line 2: 'threads' set twice"},
        {"\n\n\n\nthreads = many\n", "line 5: threads: expected an integer"},
        {"db =\n", "line 1: db: empty value"},
        {"Threads = 2\n", "line 1: unknown key 'Threads'"},
        {"max-body = 1K\n", "line 1: unknown key 'max-body'"},
        {"log = syslog # comment\n", "line 1: log: expected stderr or syslog"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ks_config c;
        assert_int_equal(ks_config_init(&c), KS_OK);
        assert_int_equal(parse(&c, cases[i].text, err, sizeof(err)), KS_ERR_CONFIG);
        if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0) {
            fail_msg("case %zu: got '%s', want '%s...'", i, err, cases[i].want);
        }
        ks_config_free(&c);
    }
    /* NUL bytes and over-long lines. */
    static const char nul[] = "threads = 2\nthreads\0 = 3\n";
    assert_int_equal(ks_config_parse_buffer(cfg, nul, sizeof(nul) - 1, err, sizeof(err)),
                     KS_ERR_CONFIG);
    assert_string_equal(err, "line 2: NUL byte");
    size_t n = KS_CONFIG_LINE_MAX + 20;
    char *longline = malloc(n + 1);
    assert_non_null(longline);
    memset(longline, 'a', n);
    memcpy(longline, "db = /", 6);
    longline[n] = '\0';
    assert_int_equal(ks_config_parse_buffer(cfg, longline, n, err, sizeof(err)), KS_ERR_CONFIG);
    assert_non_null(strstr(err, "line 1: longer than"));
    free(longline);
    /* A NULL error buffer is allowed. */
    assert_int_equal(ks_config_parse_buffer(cfg, "x = 1", 5, NULL, 0), KS_ERR_CONFIG);
    assert_int_equal(ks_config_parse_buffer(NULL, "x", 1, err, sizeof(err)), KS_ERR_INVALID_ARG);
}

static void test_empty_buffer(void **state)
{
    struct ks_config *cfg = *state;
    char err[16];
    assert_int_equal(ks_config_parse_buffer(cfg, NULL, 0, err, sizeof(err)), KS_OK);
    assert_int_equal(parse(cfg, "\n\n# only comments\n", err, sizeof(err)), KS_OK);
    assert_int_equal(cfg->listen_port, 8443);
}

static void test_unknown_key_set(void **state)
{
    struct ks_config *cfg = *state;
    char err[128];
    assert_int_equal(ks_config_set(cfg, "nope", "1", err, sizeof(err)), KS_ERR_CONFIG);
    assert_string_equal(err, "unknown key 'nope'");
    assert_int_equal(ks_config_set(cfg, "db", NULL, err, sizeof(err)), KS_ERR_INVALID_ARG);
}

/* Every key of the table is a flag with dashes for underscores, and every
 * key the parser accepts is in the table. */
static void test_key_table(void **state)
{
    struct ks_config *cfg = *state;
    char err[256];
    size_t n = 0;
    for (; ks_config_key(n); n++) {
        const struct ks_config_key *k = ks_config_key(n);
        assert_int_equal(strlen(k->name), strlen(k->flag));
        for (size_t i = 0; k->name[i]; i++) {
            assert_int_equal(k->flag[i], k->name[i] == '_' ? '-' : k->name[i]);
        }
        assert_non_null(k->help);
        /* The parser knows it (an invalid value is refused by the key's own
         * check, not as unknown). */
        err[0] = '\0';
        int r = ks_config_set(cfg, k->name, "\x01", err, sizeof(err));
        assert_true(r == KS_OK || r == KS_ERR_CONFIG);
        assert_null(strstr(err, "unknown key"));
    }
    assert_int_equal(n, 22); /* 17 + the 3 enroll_* keys + the 2 policy_cache_* keys */
    assert_null(ks_config_key(n));
    assert_true(ks_config_key(4)->is_bool);
    assert_string_equal(ks_config_key(4)->name, "plain_http");
}

static void test_validate(void **state)
{
    struct ks_config *cfg = *state;
    char err[256];
    assert_int_equal(ks_config_validate(cfg, err, sizeof(err)), KS_ERR_CONFIG);
    assert_non_null(strstr(err, "tls_cert and tls_key are required"));
    assert_int_equal(ks_config_set(cfg, "tls_cert", "/c", err, sizeof(err)), KS_OK);
    assert_int_equal(ks_config_validate(cfg, err, sizeof(err)), KS_ERR_CONFIG);
    assert_int_equal(ks_config_set(cfg, "tls_key", "/k", err, sizeof(err)), KS_OK);
    assert_int_equal(ks_config_validate(cfg, err, sizeof(err)), KS_OK);
    struct ks_config plain;
    assert_int_equal(ks_config_init(&plain), KS_OK);
    assert_int_equal(ks_config_set(&plain, "plain_http", "true", err, sizeof(err)), KS_OK);
    assert_int_equal(ks_config_validate(&plain, err, sizeof(err)), KS_OK);
    /* The application PCR: never IMA's PCR 10 or a resettable PCR. */
    assert_int_equal(plain.app_pcr, 15);
    const char *bad_pcrs[] = {"10", "16", "23"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ks_config_set(&plain, "app_pcr", bad_pcrs[i], err, sizeof(err)), KS_OK);
        assert_int_equal(ks_config_validate(&plain, err, sizeof(err)), KS_ERR_CONFIG);
        assert_non_null(strstr(err, "app_pcr"));
    }
    assert_int_equal(ks_config_set(&plain, "app_pcr", "24", err, sizeof(err)), KS_ERR_CONFIG);
    assert_int_equal(ks_config_set(&plain, "app_pcr", "14", err, sizeof(err)), KS_OK);
    assert_int_equal(ks_config_validate(&plain, err, sizeof(err)), KS_OK);
    assert_int_equal(plain.db_busy_timeout, 5000);
    assert_int_equal(ks_config_set(&plain, "db_busy_timeout", "0", err, sizeof(err)),
                     KS_ERR_CONFIG);
    ks_config_free(&plain);
    ks_config_free(NULL);
}

static void test_parse_file(void **state)
{
    struct ks_config *cfg = *state;
    char err[512];
    char path[] = "/tmp/ks-config-test.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "threads = 5\nbogus = 1\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    assert_int_equal(ks_config_parse_file(cfg, path, err, sizeof(err)), KS_ERR_CONFIG);
    /* "FILE: line 2: unknown key 'bogus'" */
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, ": line 2: unknown key 'bogus'"));
    unlink(path);
    assert_int_equal(ks_config_parse_file(cfg, path, err, sizeof(err)), KS_ERR_IO);
    assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bools_and_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numeric_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
