/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* ksctl_getopt (policy/ksctl_db.c): the option loop of the ksctl admin
 * subcommands. Each case checks the exit status, the message ksctl_err
 * would print, where the usage went, and what reached the subcommand. */

#include <stdarg.h>

#include "unit.h"

#include "policy/ksctl.h"
#include "policy/ksctl_db.h"

/* ksctl_err of the ksctl program, recorded instead of printed. */
static char err_buf[1024];
static int n_err;

void ksctl_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
    va_end(ap);
    n_err++;
}

enum { OPT_JSON = 'j', OPT_NAME = 'n', OPT_FAIL = 'F' };

static const struct option longopts[] = {
    KSCTL_DB_LONGOPTS,
    KSCTL_MASTER_KEY_LONGOPT,
    {"json", no_argument, NULL, OPT_JSON},
    {"name", required_argument, NULL, OPT_NAME},
    {"fail", no_argument, NULL, OPT_FAIL},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct seen {
    int n_opts;
    char opts[8];
    int last_c;
    const char *name;
    const char *cmd;
    int n_usage;
    FILE *usage_to;
};

static int opt_cb(void *ctx, const char *cmd, int c, const char *arg)
{
    struct seen *s = ctx;
    s->cmd = cmd;
    if (s->n_opts < (int)sizeof(s->opts) - 1) {
        s->opts[s->n_opts] = (char)c;
    }
    s->n_opts++;
    s->last_c = c;
    if (c == OPT_NAME) {
        s->name = arg;
    }
    return c == OPT_FAIL ? 5 : 0;
}

static void usage_cb(FILE *f, void *ctx)
{
    struct seen *s = ctx;
    s->n_usage++;
    s->usage_to = f;
}

struct run {
    struct seen seen;
    struct ksctl_db_opts db;
    struct ksctl_getopt g;
    int nargs;
    char **args;
};

/* A spec for "test sub" taking every option, no argument. */
static char *sentinel[1];

static void run_init(struct run *r)
{
    memset(r, 0, sizeof(*r));
    ksctl_db_opts_init(&r->db);
    r->g.cmd = "test sub";
    r->g.longopts = longopts;
    r->g.db = &r->db;
    r->g.opt = opt_cb;
    r->g.usage = usage_cb;
    r->g.ctx = &r->seen;
    r->nargs = -7; /* sentinels: not written on failure */
    r->args = sentinel;
    err_buf[0] = '\0';
    n_err = 0;
}

/* A mutable argv from literals (getopt_long permutes the pointers). */
static char arg_store[16][64];
static char *arg_vec[17];

static int set_args(const char *const *in, size_t n)
{
    assert_true(n < 16);
    for (size_t i = 0; i < n; i++) {
        snprintf(arg_store[i], sizeof(arg_store[i]), "%s", in[i]);
        arg_vec[i] = arg_store[i];
    }
    arg_vec[n] = NULL;
    return (int)n;
}

#define ARGS(...)                                                                                  \
    set_args((const char *const[]){"sub", __VA_ARGS__},                                            \
             sizeof((const char *const[]){"sub", __VA_ARGS__}) / sizeof(const char *))
#define RUN(r, ...) ksctl_getopt(ARGS(__VA_ARGS__), arg_vec, &(r)->g, &(r)->nargs, &(r)->args)

static void test_options_and_arguments(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    r.g.min_args = 1;
    r.g.max_args = 2;
    assert_int_equal(RUN(&r, "--db", "/x.db", "POS", "--json", "--name", "N", "--busy-timeout=250",
                         "--config", "/c", "POS2"),
                     -1);
    /* shared options to db, the others to opt in order, arguments last
     * (getopt_long moves them behind the options) */
    assert_string_equal(r.db.db, "/x.db");
    assert_string_equal(r.db.config, "/c");
    assert_int_equal(r.db.busy_ms, 250);
    assert_null(r.db.master_key);
    assert_int_equal(r.seen.n_opts, 2);
    assert_string_equal(r.seen.opts, "jn");
    assert_string_equal(r.seen.name, "N");
    assert_string_equal(r.seen.cmd, "test sub");
    assert_int_equal(r.nargs, 2);
    assert_string_equal(r.args[0], "POS");
    assert_string_equal(r.args[1], "POS2");
    assert_int_equal(r.seen.n_usage, 0);
    assert_int_equal(n_err, 0);

    /* the outputs may be NULL; optind starts over on every call */
    run_init(&r);
    r.g.max_args = 1;
    assert_int_equal(ksctl_getopt(ARGS("A", "--json"), arg_vec, &r.g, NULL, NULL), -1);
    assert_int_equal(r.seen.n_opts, 1);
    assert_int_equal(optind, 2);
}

static void test_help(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    /* --help wins over what follows it, even a bad option */
    assert_int_equal(RUN(&r, "--json", "--help", "--bogus"), 0);
    assert_int_equal(r.seen.n_usage, 1);
    assert_ptr_equal(r.seen.usage_to, stdout);
    assert_int_equal(r.seen.n_opts, 1);
    assert_int_equal(r.nargs, -7);
    run_init(&r);
    assert_int_equal(RUN(&r, "-h"), 0);
    assert_ptr_equal(r.seen.usage_to, stdout);
    assert_int_equal(n_err, 0);
}

static void test_unknown_option(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    opterr = 0; /* getopt_long's own message is not under test */
    assert_int_equal(RUN(&r, "--bogus"), 2);
    assert_int_equal(r.seen.n_usage, 1);
    assert_ptr_equal(r.seen.usage_to, stderr);
    assert_int_equal(n_err, 0);
    assert_int_equal(r.seen.n_opts, 0);
    /* a missing option argument is one too */
    run_init(&r);
    assert_int_equal(RUN(&r, "--name"), 2);
    assert_ptr_equal(r.seen.usage_to, stderr);
    opterr = 1;
    assert_int_equal(r.nargs, -7);
    assert_ptr_equal(r.args, sentinel);
}

static void test_not_allowed(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    r.g.allowed = "n";
    assert_int_equal(RUN(&r, "--name", "x", "--json"), 2);
    assert_string_equal(err_buf, "test sub: --json is not an option of this command");
    assert_int_equal(r.seen.n_opts, 1);
    assert_int_equal(r.seen.n_usage, 1);
    assert_ptr_equal(r.seen.usage_to, stderr);
    /* the shared options need no letter in `allowed` */
    run_init(&r);
    r.g.allowed = "";
    assert_int_equal(RUN(&r, "--db", "/d", "--master-key", "/k"), -1);
    assert_string_equal(r.db.master_key, "/k");
    /* quiet: the same message, no usage */
    run_init(&r);
    r.g.allowed = "n";
    r.g.flags = KSCTL_GETOPT_QUIET;
    assert_int_equal(RUN(&r, "--json"), 2);
    assert_string_equal(err_buf, "test sub: --json is not an option of this command");
    assert_int_equal(r.seen.n_usage, 0);
    /* an unknown option still gets the usage when quiet */
    run_init(&r);
    r.g.flags = KSCTL_GETOPT_QUIET;
    opterr = 0;
    assert_int_equal(RUN(&r, "--bogus"), 2);
    opterr = 1;
    assert_int_equal(r.seen.n_usage, 1);
}

static void test_no_master_key(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    r.g.flags = KSCTL_GETOPT_NO_MASTER_KEY;
    assert_int_equal(RUN(&r, "--master-key=/k"), 2);
    assert_string_equal(err_buf, "test sub: --master-key is not an option of this command");
    assert_null(r.db.master_key);
    assert_int_equal(r.seen.n_usage, 0);
    /* the other shared options still work */
    run_init(&r);
    r.g.flags = KSCTL_GETOPT_NO_MASTER_KEY;
    assert_int_equal(RUN(&r, "--db", "/d"), -1);
    assert_string_equal(r.db.db, "/d");
}

static void test_shared_option_errors(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    assert_int_equal(RUN(&r, "--busy-timeout", "soon", "--json"), 2);
    assert_string_equal(err_buf, "test sub: --busy-timeout: not a number of milliseconds in "
                                 "0..3600000: 'soon'");
    assert_int_equal(r.seen.n_opts, 0);
    assert_int_equal(r.seen.n_usage, 0);
    /* without g->db the shared options reach opt like any other */
    run_init(&r);
    r.g.db = NULL;
    assert_int_equal(RUN(&r, "--db", "/d"), -1);
    assert_null(r.db.db);
    assert_int_equal(r.seen.n_opts, 1);
    assert_int_equal(r.seen.last_c, KSCTL_OPT_DB);
    /* ... unless `allowed` leaves them out (they have no letter) */
    run_init(&r);
    r.g.db = NULL;
    r.g.allowed = "jn";
    assert_int_equal(RUN(&r, "--db=/d"), 2);
    assert_string_equal(err_buf, "test sub: --db is not an option of this command");
    /* "--name VALUE": the message names the option, not its value */
    run_init(&r);
    r.g.db = NULL;
    r.g.allowed = "jn";
    assert_int_equal(RUN(&r, "--db", "/d"), 2);
    assert_string_equal(err_buf, "test sub: --db is not an option of this command");
}

static void test_opt_result(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    /* opt's exit status ends the loop: --json is never seen */
    assert_int_equal(RUN(&r, "--fail", "--json"), 5);
    assert_int_equal(r.seen.n_opts, 1);
    assert_int_equal(r.nargs, -7);
    /* no opt: any option of its own is a usage error */
    run_init(&r);
    r.g.opt = NULL;
    assert_int_equal(RUN(&r, "--json"), 2);
    assert_int_equal(r.seen.n_usage, 1);
    assert_ptr_equal(r.seen.usage_to, stderr);
    assert_int_equal(n_err, 0);
    run_init(&r);
    r.g.opt = NULL;
    assert_int_equal(RUN(&r, "--db", "/d"), -1);
}

static void test_argument_count(void **state)
{
    (void)state;
    struct run r;
    /* no reason given: one too many is named, without the usage */
    run_init(&r);
    assert_int_equal(RUN(&r, "A", "B"), 2);
    assert_string_equal(err_buf, "test sub: unexpected argument 'A'");
    assert_int_equal(r.seen.n_usage, 0);
    run_init(&r);
    r.g.max_args = 1;
    assert_int_equal(RUN(&r, "A", "B", "C"), 2);
    assert_string_equal(err_buf, "test sub: unexpected argument 'B'");
    /* too few without a reason */
    run_init(&r);
    r.g.min_args = 1;
    r.g.max_args = 1;
    assert_int_equal(RUN(&r, "--json"), 2);
    assert_string_equal(err_buf, "test sub: wrong number of arguments");
    assert_int_equal(r.seen.n_usage, 1);
    assert_ptr_equal(r.seen.usage_to, stderr);
    assert_int_equal(r.nargs, -7);
    /* a reason: printed with the usage, too many or too few */
    run_init(&r);
    r.g.min_args = 1;
    r.g.max_args = 1;
    r.g.args_error = "expected one FILE";
    assert_int_equal(RUN(&r, "A", "B"), 2);
    assert_string_equal(err_buf, "test sub: expected one FILE");
    assert_int_equal(r.seen.n_usage, 1);
    run_init(&r);
    r.g.min_args = 2;
    r.g.max_args = 3;
    r.g.args_error = "wrong number of arguments";
    assert_int_equal(RUN(&r, "A"), 2);
    assert_string_equal(err_buf, "test sub: wrong number of arguments");
    /* the bounds are inclusive */
    run_init(&r);
    r.g.min_args = 2;
    r.g.max_args = 3;
    assert_int_equal(RUN(&r, "A", "B", "C"), -1);
    assert_int_equal(r.nargs, 3);
    run_init(&r);
    r.g.min_args = 2;
    r.g.max_args = 3;
    assert_int_equal(RUN(&r, "A", "B"), -1);
    assert_int_equal(r.nargs, 2);
    /* "--" ends the options */
    run_init(&r);
    r.g.max_args = 1;
    assert_int_equal(RUN(&r, "--", "--json"), -1);
    assert_string_equal(r.args[0], "--json");
    assert_int_equal(r.seen.n_opts, 0);
}

/* Regression: a parse that stopped inside "-hh" must not leave getopt
 * there for the next one (optind = 0, a full restart). */
static void test_parse_again(void **state)
{
    (void)state;
    struct run r;
    run_init(&r);
    assert_int_equal(RUN(&r, "-hh"), 0);
    run_init(&r);
    assert_int_equal(RUN(&r, "--json"), -1);
    assert_int_equal(r.seen.n_usage, 0);
    assert_int_equal(r.seen.n_opts, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_and_arguments),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_unknown_option),
        cmocka_unit_test(test_not_allowed),
        cmocka_unit_test(test_no_master_key),
        cmocka_unit_test(test_shared_option_errors),
        cmocka_unit_test(test_opt_result),
        cmocka_unit_test(test_argument_count),
        cmocka_unit_test(test_parse_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
