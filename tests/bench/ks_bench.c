/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/*
 * ks-bench: load keyserverd with the loader's release flow and compare its
 * CPU time per release with the crypto floor measured in the same run.
 * See docs/BENCHMARKS.md and `ks-bench --help`.
 *
 * For each AK kind (ECDSA P-256, RSA-2048; a SOFTWARE AK, see soft_ak.h):
 *   1. a fresh keyserver (bench_setup.c) holding a known key whose policy
 *      pins the PCRs the 100-event log replays to;
 *   2. warm-up, then a closed loop: --clients keep-alive connections doing
 *      releases back to back for --duration seconds: releases/s, latency,
 *      and keyserverd's utime+stime (/proc/PID/stat) over the phase divided
 *      by the releases: its CPU per release, which stays meaningful while
 *      this load generator shares the machine;
 *   3. an open loop at --open-load (50%) of that peak: Poisson arrivals on a
 *      fixed schedule, latency counted from each request's scheduled start
 *      (so that a slow server cannot hide queueing);
 *   4. --conns (256) keep-alive connections opened at once, held idle for
 *      --idle seconds, then one release each over the same connection;
 *   5. keyserverd's peak RSS (VmHWM), then its exit rusage (wait4);
 *   6. the crypto floor of one release (bench_floor.c), in this process.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>

#include "bench_client.h"
#include "bench_eventlog.h"
#include "bench_floor.h"
#include "bench_setup.h"
#include "eventlog.h"
#include "soft_ak.h"

#define KEY_NAME "bench-dek"
#define MAX_THREADS 4096

struct opts {
    struct ks_bench_server_opts srv;
    double warmup, duration, open_duration, open_load, idle, floor_seconds;
    unsigned clients, open_clients, conns, events;
    bool ecdsa, rsa, keep, strict;
    bool cbor; /* release bodies as application/cbor (default), else JSON */
};

/* Latencies of one thread, microseconds. */
struct lat {
    uint32_t *us;
    size_t n, cap;
};

struct phase {
    size_t ok, errors;
    double seconds;
    uint64_t cpu_us; /* keyserverd utime+stime over the phase */
    uint64_t sys_us; /* the stime part */
    double p50_ms, p99_ms;
    char first_error[256];
};

struct result {
    const char *ak;
    bool ran;
    struct phase warm, closed, open;
    double offered_rate;
    size_t open_late; /* requests started over 1 ms after their slot */
    unsigned conns_established;
    size_t conn_errors, conn_ok;
    uint64_t hwm_kib;
    struct rusage ru;
    struct ks_bench_floor floor;
};

/* ---- time ---------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static int lat_add(struct lat *l, double seconds)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        uint32_t *p = realloc(l->us, cap * sizeof(*p));
        if (!p) {
            return KS_ERR_NOMEM;
        }
        l->us = p;
        l->cap = cap;
    }
    double us = seconds * 1e6;
    l->us[l->n++] = us > 4e9 ? UINT32_MAX : (uint32_t)us;
    return KS_OK;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the merged latencies, in ms. */
static void percentiles(struct lat *ls, size_t n, struct phase *ph)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        total += ls[i].n;
    }
    ph->p50_ms = ph->p99_ms = (double)NAN;
    if (total == 0) {
        return;
    }
    uint32_t *all = malloc(total * sizeof(*all));
    if (!all) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(all + k, ls[i].us, ls[i].n * sizeof(*all));
        k += ls[i].n;
    }
    qsort(all, total, sizeof(*all), cmp_u32);
    size_t i50 = (size_t)ceil(0.50 * (double)total), i99 = (size_t)ceil(0.99 * (double)total);
    ph->p50_ms = all[i50 ? i50 - 1 : 0] / 1e3;
    ph->p99_ms = all[i99 ? i99 - 1 : 0] / 1e3;
    free(all);
}

/* ---- load phases ----------------------------------------------------------- */

struct run {
    const struct ks_bench_target *t;
    pthread_mutex_t lock;
    char first_error[256];
    atomic_size_t ok, errors;
    /* closed loop */
    double stop_at;
    /* open loop: request i starts at t0 + sched[i] */
    const double *sched;
    size_t n_sched;
    atomic_size_t next, late;
    double t0;
    /* held connections */
    pthread_barrier_t barrier;
    double idle;
    atomic_size_t conn_ok, conn_errors;
};

struct worker {
    struct run *run;
    struct lat lat;
    pthread_t thread;
    bool started;
};

static void note_error(struct run *run, struct ks_bench_conn *c, int r, const char *what)
{
    atomic_fetch_add(&run->errors, 1);
    pthread_mutex_lock(&run->lock);
    if (!run->first_error[0]) {
        snprintf(run->first_error, sizeof(run->first_error), "%s: %s (%s)", what, ks_strerror(r),
                 c ? ks_bench_conn_last_error(c) : "");
    }
    pthread_mutex_unlock(&run->lock);
}

/* One timed release; latency measured from `start`. */
static void timed_release(struct worker *w, struct ks_bench_conn *c, double start)
{
    int r = ks_bench_conn_release(c);
    if (r < 0) {
        note_error(w->run, c, r, "release");
        return;
    }
    atomic_fetch_add(&w->run->ok, 1);
    if (lat_add(&w->lat, now_s() - start) < 0) {
        note_error(w->run, c, KS_ERR_NOMEM, "latency record");
    }
}

static void *closed_worker(void *arg)
{
    struct worker *w = arg;
    struct ks_bench_conn *c = NULL;
    int r = ks_bench_conn_new(w->run->t, &c);
    if (r < 0) {
        note_error(w->run, NULL, r, "connection");
        return NULL;
    }
    for (double t = now_s(); t < w->run->stop_at; t = now_s()) {
        timed_release(w, c, t);
    }
    ks_bench_conn_free(c);
    return NULL;
}

static void *open_worker(void *arg)
{
    struct worker *w = arg;
    struct run *run = w->run;
    struct ks_bench_conn *c = NULL;
    int r = ks_bench_conn_new(run->t, &c);
    if (r == KS_OK) {
        r = ks_bench_conn_health(c); /* connect before the clock starts */
    }
    if (r < 0) {
        note_error(run, c, r, "connection");
    }
    pthread_barrier_wait(&run->barrier);
    pthread_barrier_wait(&run->barrier);
    for (size_t i = atomic_fetch_add(&run->next, 1); r == KS_OK && i < run->n_sched;
         i = atomic_fetch_add(&run->next, 1)) {
        double start = run->t0 + run->sched[i];
        sleep_until(start);
        if (now_s() - start > 1e-3) {
            atomic_fetch_add(&run->late, 1);
        }
        timed_release(w, c, start);
    }
    ks_bench_conn_free(c);
    return NULL;
}

static void *held_worker(void *arg)
{
    struct worker *w = arg;
    struct run *run = w->run;
    struct ks_bench_conn *c = NULL;
    int r = ks_bench_conn_new(run->t, &c);
    if (r == KS_OK) {
        r = ks_bench_conn_health(c);
    }
    if (r < 0) {
        note_error(run, c, r, "connect");
    }
    /* Every connection open at once, then idle. */
    pthread_barrier_wait(&run->barrier);
    pthread_barrier_wait(&run->barrier);
    if (r == KS_OK) {
        double start = now_s();
        r = ks_bench_conn_release(c);
        if (r < 0) {
            note_error(run, c, r, "release after idle");
        } else if (ks_bench_conn_connects(c) != 1) {
            note_error(run, c, KS_ERR_IO, "the idle connection was closed and reopened");
        } else {
            atomic_fetch_add(&run->conn_ok, 1);
            atomic_fetch_add(&run->ok, 1);
            if (lat_add(&w->lat, now_s() - start) < 0) {
                note_error(run, c, KS_ERR_NOMEM, "latency record");
            }
        }
    }
    /* ... and held until every release is done. */
    pthread_barrier_wait(&run->barrier);
    ks_bench_conn_free(c);
    return NULL;
}

static int start_workers(struct worker *ws, unsigned n, void *(*fn)(void *), size_t stack)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (stack) {
        pthread_attr_setstacksize(&attr, stack);
    }
    int r = KS_OK;
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&ws[i].thread, &attr, fn, &ws[i]) != 0) {
            r = KS_ERR_NOMEM;
            break;
        }
        ws[i].started = true;
    }
    pthread_attr_destroy(&attr);
    return r;
}

static void join_workers(struct worker *ws, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (ws[i].started) {
            pthread_join(ws[i].thread, NULL);
            ws[i].started = false;
        }
    }
}

static void finish_phase(struct run *run, struct worker *ws, unsigned n, struct phase *ph)
{
    struct lat *ls = calloc(n, sizeof(*ls));
    ph->p50_ms = ph->p99_ms = (double)NAN;
    ph->ok = atomic_load(&run->ok);
    ph->errors = atomic_load(&run->errors);
    snprintf(ph->first_error, sizeof(ph->first_error), "%s", run->first_error);
    if (ls) {
        for (unsigned i = 0; i < n; i++) {
            ls[i] = ws[i].lat;
        }
        percentiles(ls, n, ph);
        free(ls);
    }
    for (unsigned i = 0; i < n; i++) {
        free(ws[i].lat.us);
        memset(&ws[i].lat, 0, sizeof(ws[i].lat));
    }
}

static struct worker *workers_new(struct run *run, unsigned n)
{
    struct worker *ws = calloc(n, sizeof(*ws));
    for (unsigned i = 0; ws && i < n; i++) {
        ws[i].run = run;
    }
    return ws;
}

static void run_reset(struct run *run)
{
    run->first_error[0] = '\0';
    atomic_store(&run->ok, 0);
    atomic_store(&run->errors, 0);
    atomic_store(&run->next, 0);
    atomic_store(&run->late, 0);
    atomic_store(&run->conn_ok, 0);
    atomic_store(&run->conn_errors, 0);
}

/* Closed loop for `seconds`, with keyserverd's CPU over the phase. */
static int phase_closed(struct run *run, const struct ks_bench_server *srv, unsigned clients,
                        double seconds, struct phase *ph)
{
    struct worker *ws = workers_new(run, clients);
    uint64_t user0 = 0, user1 = 0, sys0 = 0, sys1 = 0;
    if (!ws) {
        return KS_ERR_NOMEM;
    }
    run_reset(run);
    int r = ks_bench_server_cpu_us(srv, &user0, &sys0);
    double t0 = now_s();
    run->stop_at = t0 + seconds;
    if (r == KS_OK) {
        r = start_workers(ws, clients, closed_worker, 0);
    }
    join_workers(ws, clients);
    ph->seconds = now_s() - t0;
    if (r == KS_OK) {
        r = ks_bench_server_cpu_us(srv, &user1, &sys1);
    }
    ph->cpu_us = (user1 + sys1) - (user0 + sys0);
    ph->sys_us = sys1 - sys0;
    finish_phase(run, ws, clients, ph);
    free(ws);
    return r;
}

/* Poisson arrivals at `rate`/s for `seconds`, fixed seed. */
static double *schedule(double rate, double seconds, size_t *ret_n)
{
    size_t cap = (size_t)(rate * seconds * 1.5) + 64, n = 0;
    double *s = malloc(cap * sizeof(*s)), t = 0;
    unsigned short seed[3] = {0x6b73, 0x6265, 0x6e63};
    if (!s) {
        return NULL;
    }
    while (n < cap) {
        t += -log(1.0 - erand48(seed)) / rate;
        if (t >= seconds) {
            break;
        }
        s[n++] = t;
    }
    *ret_n = n;
    return s;
}

static int phase_open(struct run *run, const struct ks_bench_server *srv, unsigned clients,
                      double rate, double seconds, struct result *res)
{
    struct phase *ph = &res->open;
    struct worker *ws = workers_new(run, clients);
    size_t n = 0;
    double *sched = rate > 0 ? schedule(rate, seconds, &n) : NULL;
    uint64_t user0 = 0, user1 = 0, sys0 = 0, sys1 = 0;
    int r = ws && sched ? KS_OK : KS_ERR_NOMEM;
    run_reset(run);
    run->sched = sched;
    run->n_sched = n;
    if (r == KS_OK && pthread_barrier_init(&run->barrier, NULL, clients + 1) != 0) {
        r = KS_ERR_NOMEM;
    }
    if (r == KS_OK) {
        r = start_workers(ws, clients, open_worker, 0);
        if (r < 0) {
            /* The barrier cannot complete: stop here (the process exits). */
            fprintf(stderr, "ks-bench: cannot start %u threads\n", clients);
            exit(3);
        }
        pthread_barrier_wait(&run->barrier); /* all connected */
        r = ks_bench_server_cpu_us(srv, &user0, &sys0);
        run->t0 = now_s() + 0.01;
        pthread_barrier_wait(&run->barrier); /* the workers read t0 after this */
        join_workers(ws, clients);
        ph->seconds = now_s() - run->t0;
        pthread_barrier_destroy(&run->barrier);
        if (r == KS_OK) {
            r = ks_bench_server_cpu_us(srv, &user1, &sys1);
        }
        ph->cpu_us = (user1 + sys1) - (user0 + sys0);
        ph->sys_us = sys1 - sys0;
        res->open_late = atomic_load(&run->late);
        finish_phase(run, ws, clients, ph);
    }
    free(sched);
    free(ws);
    return r;
}

static int phase_held(struct run *run, const struct ks_bench_server *srv, unsigned conns,
                      double idle, struct result *res)
{
    struct worker *ws = workers_new(run, conns);
    int r = ws ? KS_OK : KS_ERR_NOMEM;
    run_reset(run);
    if (r == KS_OK && pthread_barrier_init(&run->barrier, NULL, conns + 1) != 0) {
        r = KS_ERR_NOMEM;
    }
    if (r < 0) {
        free(ws);
        return r;
    }
    /* Small stacks: 256 threads that mostly wait. */
    if (start_workers(ws, conns, held_worker, 512 * 1024) < 0) {
        fprintf(stderr, "ks-bench: cannot start %u threads\n", conns);
        exit(3);
    }
    pthread_barrier_wait(&run->barrier); /* all connected */
    double t = now_s();
    sleep_until(t + idle / 2);
    if (ks_bench_server_established(srv, &res->conns_established) < 0) {
        res->conns_established = 0;
    }
    sleep_until(t + idle);
    pthread_barrier_wait(&run->barrier); /* release */
    pthread_barrier_wait(&run->barrier); /* all done */
    join_workers(ws, conns);
    pthread_barrier_destroy(&run->barrier);
    struct phase ph;
    memset(&ph, 0, sizeof(ph));
    finish_phase(run, ws, conns, &ph);
    res->conn_ok = atomic_load(&run->conn_ok);
    /* Every connection that did not connect, release and stay open. */
    res->conn_errors = conns - res->conn_ok;
    if (ph.first_error[0]) {
        fprintf(stderr, "ks-bench: %u connections: %zu errors, first: %s\n", conns,
                res->conn_errors, ph.first_error);
    }
    free(ws);
    return KS_OK;
}

/* ---- one AK kind ----------------------------------------------------------- */

/* keyserverd's group commit: release audit rows per transaction (fsync). */
static void print_audit_batching(const struct ks_bench_target *t)
{
    struct ks_bench_conn *c = NULL;
    double rows = 0, commits = 0;
    if (ks_bench_conn_new(t, &c) == KS_OK &&
        ks_bench_conn_metric(c, "keyserverd_audit_release_rows_total", &rows) == KS_OK &&
        ks_bench_conn_metric(c, "keyserverd_audit_commits_total", &commits) == KS_OK &&
        commits > 0) {
        printf("  audit: %.0f release rows in %.0f commits, %.2f rows per fsync\n", rows, commits,
               rows / commits);
    } else {
        printf("  audit: /metrics has no group-commit counters\n");
    }
    ks_bench_conn_free(c);
}

static void print_phase(const char *name, const struct phase *ph)
{
    double rate = ph->seconds > 0 ? (double)ph->ok / ph->seconds : 0;
    double per = ph->ok ? 1.0 / (double)ph->ok : (double)NAN;
    printf("  %-8s %7zu ok %4zu err in %5.1f s: %8.1f rel/s, p50 %6.2f ms, p99 %6.2f ms, "
           "server CPU %6.1f us/rel (%.1f sys)\n",
           name, ph->ok, ph->errors, ph->seconds, rate, ph->p50_ms, ph->p99_ms,
           (double)ph->cpu_us * per, (double)ph->sys_us * per);
    if (ph->first_error[0]) {
        printf("           first error: %s\n", ph->first_error);
    }
    fflush(stdout);
}

static int bench_one(const struct opts *o, enum ks_soft_ak_kind kind, const uint8_t *evlog,
                     size_t evlog_len, const struct ks_pcr_set *pcrs, struct result *res)
{
    struct ks_soft_ak *ak = NULL;
    struct ks_bench_server srv;
    struct ks_bench_target t;
    struct run run;
    memset(&srv, 0, sizeof(srv));
    memset(&t, 0, sizeof(t));
    memset(&run, 0, sizeof(run));
    pthread_mutex_init(&run.lock, NULL);
    res->ak = ks_soft_ak_kind_name(kind);
    printf("== %s (software AK), %u-event log ==\n", res->ak, o->events);
    fflush(stdout);

    int r = ks_soft_ak_new(kind, &ak);
    if (r < 0) {
        goto out;
    }
    t.ak = ak;
    t.key_name = KEY_NAME;
    t.cbor = o->cbor;
    t.pcrs = *pcrs;
    t.sel.count = 1;
    t.sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
    t.sel.pcrSelections[0].sizeofSelect = 3;
    t.sel.pcrSelections[0].pcrSelect[0] = 0xff; /* PCRs 0-7 */
    if (RAND_bytes(t.key, sizeof(t.key)) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    r = ks_bench_target_init(&t, evlog, evlog_len);
    if (r < 0) {
        goto out;
    }
    r = ks_bench_server_start(&o->srv, ak, pcrs, KEY_NAME, t.key, &srv);
    if (r < 0) {
        goto out;
    }
    t.cacert = srv.cacert;
    snprintf(t.base_url, sizeof(t.base_url), "https://127.0.0.1:%u", srv.port);
    printf("  keyserverd pid %d on %s, --threads %u, in %s\n", (int)srv.pid, t.base_url,
           o->srv.threads, srv.dir);
    fflush(stdout);
    run.t = &t;

    /* Warm-up: connections, AK cache, page cache of the database. */
    if ((r = phase_closed(&run, &srv, o->clients, o->warmup, &res->warm)) < 0) {
        goto out;
    }
    print_phase("warm-up", &res->warm);
    if (res->warm.ok == 0) {
        fprintf(stderr, "ks-bench: no release succeeded during the warm-up; see %s\n", srv.log);
        r = KS_ERR_INTERNAL;
        goto out;
    }
    if ((r = phase_closed(&run, &srv, o->clients, o->duration, &res->closed)) < 0) {
        goto out;
    }
    print_phase("closed", &res->closed);
    res->offered_rate = o->open_load * (double)res->closed.ok / res->closed.seconds;
    if ((r = phase_open(&run, &srv, o->open_clients, res->offered_rate, o->open_duration, res)) <
        0) {
        goto out;
    }
    print_phase("open", &res->open);
    printf("           offered %.1f rel/s (%.0f%% of peak), %zu of %zu started over 1 ms late\n",
           res->offered_rate, o->open_load * 100, res->open_late, res->open.ok + res->open.errors);
    if ((r = phase_held(&run, &srv, o->conns, o->idle, res)) < 0) {
        goto out;
    }
    printf("  %u conns: %u established at the server while idle, %zu released after %.1f s "
           "idle, %zu errors\n",
           o->conns, res->conns_established, res->conn_ok, o->idle, res->conn_errors);
    print_audit_batching(&t);
    if ((r = ks_bench_server_hwm_kib(&srv, &res->hwm_kib)) < 0) {
        goto out;
    }
    r = ks_bench_server_stop(&srv, &res->ru);
    if (r < 0) {
        fprintf(stderr, "ks-bench: keyserverd did not exit cleanly; see %s\n", srv.log);
        goto out;
    }
    printf("  keyserverd: VmHWM %.1f MiB, exit rusage: maxrss %.1f MiB, CPU %.2f s in all\n",
           (double)res->hwm_kib / 1024, (double)res->ru.ru_maxrss / 1024,
           (double)res->ru.ru_utime.tv_sec + (double)res->ru.ru_utime.tv_usec / 1e6 +
               (double)res->ru.ru_stime.tv_sec + (double)res->ru.ru_stime.tv_usec / 1e6);
    /* The floor, with the daemon stopped: nothing competes with it. */
    r = ks_bench_floor_measure(ak, o->events, o->floor_seconds, &res->floor);
    if (r < 0) {
        goto out;
    }
    printf("  floor: %.1f us/release (verify %.1f + %u extends %.1f + X25519 %.1f + "
           "HKDF/GCM %.1f), %zu iterations\n",
           res->floor.total_us, res->floor.verify_us, o->events, res->floor.extends_us,
           res->floor.x25519_us, res->floor.hkdf_gcm_us, res->floor.iterations);
    res->ran = true;
out:
    if (r < 0) {
        fprintf(stderr, "ks-bench: %s: %s\n", res->ak, ks_strerror(r));
    }
    ks_bench_server_cleanup(&srv, o->keep || r < 0);
    ks_bench_target_clear(&t);
    ks_soft_ak_free(ak);
    pthread_mutex_destroy(&run.lock);
    return r;
}

/* ---- report ---------------------------------------------------------------- */

static double cpu_per_release(const struct result *r)
{
    return r->closed.ok ? (double)r->closed.cpu_us / (double)r->closed.ok : (double)NAN;
}

static const char *verdict(bool pass)
{
    return pass ? "PASS" : "MISS";
}

/* Prints the table and the targets; returns how many targets were missed. */
static unsigned report(const struct opts *o, const struct result *res, size_t n)
{
    char model[128] = "?";
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (f) {
        char line[256];
        while (fgets(line, sizeof(line), f)) {
            if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
                snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        }
        fclose(f);
    }
    printf("\n%ld CPUs (%s), %s; keyserverd --threads %u; %u clients closed-loop, %u open-loop; "
           "%u-event log; %s release bodies\n\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, OpenSSL_version(OPENSSL_VERSION), o->srv.threads,
           o->clients, o->open_clients, o->events, o->cbor ? "CBOR" : "JSON");
    printf("| AK | releases/s | p50 ms | p99 ms | p99 ms open-loop %.0f%% | server CPU us/release "
           "| floor us | floor/CPU | RSS MiB | %u-conn errors |\n",
           o->open_load * 100, o->conns);
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    unsigned missed = 0;
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &res[i];
        double cpu = cpu_per_release(r);
        printf("| %s | %.0f | %.2f | %.2f | %.2f | %.0f | %.0f | %.2f | %.1f | %zu |\n", r->ak,
               (double)r->closed.ok / r->closed.seconds, r->closed.p50_ms, r->closed.p99_ms,
               r->open.p99_ms, cpu, r->floor.total_us, r->floor.total_us / cpu,
               (double)r->hwm_kib / 1024, r->conn_errors);
    }
    printf("\nTargets:\n");
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &res[i];
        double ratio = r->floor.total_us / cpu_per_release(r);
        bool t1 = ratio >= 0.5;
        bool t2 = r->conn_errors == 0 && r->conn_ok == o->conns && o->conns >= 256;
        bool t3 = r->open.p99_ms < 20.0 && r->open.errors == 0;
        bool t4 = r->hwm_kib < 64 * 1024;
        bool t5 = r->closed.errors == 0 && r->warm.errors == 0;
        printf("  %-10s floor/CPU >= 0.5: %s (%.2f)\n", r->ak, verdict(t1), ratio);
        printf("  %-10s 256 keep-alive connections without errors: %s (%u tried, %zu errors)\n",
               r->ak, verdict(t2), o->conns, r->conn_errors);
        printf("  %-10s p99 < 20 ms open-loop at %.0f%% of peak: %s (%.2f ms)\n", r->ak,
               o->open_load * 100, verdict(t3), r->open.p99_ms);
        printf("  %-10s RSS < 64 MiB: %s (%.1f MiB)\n", r->ak, verdict(t4),
               (double)r->hwm_kib / 1024);
        printf("  %-10s no failed release under load: %s (%zu)\n", r->ak, verdict(t5),
               r->closed.errors + r->warm.errors);
        missed += !t1 + !t2 + !t3 + !t4 + !t5;
    }
    return missed;
}

/* ---- options ----------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(
        f, "Usage: ks-bench [OPTION...]\n"
           "\n"
           "Load keyserverd with releases from a SOFTWARE attestation key (benchmark only, not\n"
           "a TPM) and report releases/s, latency, keyserverd's CPU time per release and peak\n"
           "RSS, against the crypto floor of one release measured in the same run.\n"
           "\n"
           "  --ksctl PATH          ksctl to provision with (default ./ksctl)\n"
           "  --keyserverd PATH     keyserverd to load (default ./keyserverd/keyserverd)\n"
           "  --openssl PATH        openssl CLI for the TLS certificate (default openssl)\n"
           "  --wrapper CMD         run keyserverd under CMD (split at spaces), for profiling,\n"
           "                        e.g. 'valgrind --tool=callgrind' (figures are then not\n"
           "                        keyserverd's own)\n"
           "  --ak ecdsa|rsa|both   AK kinds to run (default both)\n"
           "  --duration S          closed-loop peak phase (default 10)\n"
           "  --warmup S            warm-up before it (default 1)\n"
           "  --open-duration S     open-loop phase (default 10)\n"
           "  --open-load F         its offered load, fraction of the peak (default 0.5)\n"
           "  --clients N           closed-loop connections (default 2 per CPU)\n"
           "  --open-clients N      open-loop connections (default 32)\n"
           "  --conns N             held keep-alive connections (default 256)\n"
           "  --idle S              how long they are held idle (default 2)\n"
           "  --threads N           keyserverd --threads (default: CPUs)\n"
           "  --events N            events in the event log (default 100)\n"
           "  --encoding cbor|json  the release body: application/cbor (default) or JSON\n"
           "  --floor-seconds S     CPU time of the floor loop (default 2)\n"
           "  --tmpdir DIR          where the temporary keyserver lives (default $TMPDIR or /tmp)\n"
           "  --keep                keep the temporary directories\n"
           "  --strict              exit 1 when a target is missed\n"
           "  --verbose             show the provisioning commands\n"
           "  --help                this text\n"
           "\n"
           "Exit status: 0 when it ran (targets are reported, see --strict), 1 when releases\n"
           "failed or a target was missed with --strict, 2 usage, 3 setup failure.\n");
}

static bool parse_double(const char *s, double min, double max, double *ret)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v >= min && v <= max)) {
        return false;
    }
    *ret = v;
    return true;
}

static bool parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret)
{
    double v;
    if (!parse_double(s, min, max, &v) || v != floor(v)) {
        return false;
    }
    *ret = (unsigned)v;
    return true;
}

enum {
    OPT_KSCTL = 256,
    OPT_KEYSERVERD,
    OPT_OPENSSL,
    OPT_WRAPPER,
    OPT_AK,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_OPEN_DURATION,
    OPT_OPEN_LOAD,
    OPT_CLIENTS,
    OPT_OPEN_CLIENTS,
    OPT_CONNS,
    OPT_IDLE,
    OPT_THREADS,
    OPT_EVENTS,
    OPT_ENCODING,
    OPT_FLOOR,
    OPT_TMPDIR,
    OPT_KEEP,
    OPT_STRICT,
    OPT_VERBOSE,
    OPT_HELP,
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"ksctl", required_argument, NULL, OPT_KSCTL},
        {"keyserverd", required_argument, NULL, OPT_KEYSERVERD},
        {"openssl", required_argument, NULL, OPT_OPENSSL},
        {"wrapper", required_argument, NULL, OPT_WRAPPER},
        {"ak", required_argument, NULL, OPT_AK},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"open-duration", required_argument, NULL, OPT_OPEN_DURATION},
        {"open-load", required_argument, NULL, OPT_OPEN_LOAD},
        {"clients", required_argument, NULL, OPT_CLIENTS},
        {"open-clients", required_argument, NULL, OPT_OPEN_CLIENTS},
        {"conns", required_argument, NULL, OPT_CONNS},
        {"idle", required_argument, NULL, OPT_IDLE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"events", required_argument, NULL, OPT_EVENTS},
        {"encoding", required_argument, NULL, OPT_ENCODING},
        {"floor-seconds", required_argument, NULL, OPT_FLOOR},
        {"tmpdir", required_argument, NULL, OPT_TMPDIR},
        {"keep", no_argument, NULL, OPT_KEEP},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cpus = cpus > 0 ? cpus : 1;
    const char *tmp = getenv("TMPDIR");
    *o = (struct opts){
        .srv = {.ksctl = "./ksctl",
                .keyserverd = "./keyserverd/keyserverd",
                .openssl = "openssl",
                .tmp = tmp && *tmp ? tmp : "/tmp",
                .threads = (unsigned)cpus,
                .max_connections = 1024,
                /* 65536 cached nonces (keyserverd's KS_NONCE_CACHE_DEFAULT)
                 * over a 10 s lifetime allow 6500 releases/s. */
                .nonce_lifetime = 10},
        .warmup = 1,
        .duration = 10,
        .open_duration = 10,
        .open_load = 0.5,
        .idle = 2,
        .floor_seconds = 2,
        .clients = (unsigned)(2 * cpus),
        .open_clients = 32,
        .conns = 256,
        .events = 100,
        .ecdsa = true,
        .rsa = true,
        .cbor = true,
    };
    int c;
    bool ok = true;
    while (ok && (c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case OPT_KSCTL:
            o->srv.ksctl = optarg;
            break;
        case OPT_KEYSERVERD:
            o->srv.keyserverd = optarg;
            break;
        case OPT_OPENSSL:
            o->srv.openssl = optarg;
            break;
        case OPT_WRAPPER:
            o->srv.wrapper = optarg;
            break;
        case OPT_AK:
            o->ecdsa = strcmp(optarg, "ecdsa") == 0 || strcmp(optarg, "both") == 0;
            o->rsa = strcmp(optarg, "rsa") == 0 || strcmp(optarg, "both") == 0;
            ok = o->ecdsa || o->rsa;
            break;
        case OPT_DURATION:
            ok = parse_double(optarg, 0.1, 3600, &o->duration);
            break;
        case OPT_WARMUP:
            ok = parse_double(optarg, 0.1, 3600, &o->warmup);
            break;
        case OPT_OPEN_DURATION:
            ok = parse_double(optarg, 0.1, 3600, &o->open_duration);
            break;
        case OPT_OPEN_LOAD:
            ok = parse_double(optarg, 0.01, 1, &o->open_load);
            break;
        case OPT_CLIENTS:
            ok = parse_uint(optarg, 1, MAX_THREADS, &o->clients);
            break;
        case OPT_OPEN_CLIENTS:
            ok = parse_uint(optarg, 1, MAX_THREADS, &o->open_clients);
            break;
        case OPT_CONNS:
            ok = parse_uint(optarg, 1, MAX_THREADS, &o->conns);
            break;
        case OPT_IDLE:
            ok = parse_double(optarg, 0, 25, &o->idle);
            break;
        case OPT_THREADS:
            ok = parse_uint(optarg, 1, 1024, &o->srv.threads);
            break;
        case OPT_EVENTS:
            ok = parse_uint(optarg, 1, 10000, &o->events);
            break;
        case OPT_ENCODING:
            o->cbor = strcmp(optarg, "cbor") == 0;
            ok = o->cbor || strcmp(optarg, "json") == 0;
            break;
        case OPT_FLOOR:
            ok = parse_double(optarg, 0.05, 600, &o->floor_seconds);
            break;
        case OPT_TMPDIR:
            o->srv.tmp = optarg;
            break;
        case OPT_KEEP:
            o->keep = true;
            break;
        case OPT_STRICT:
            o->strict = true;
            break;
        case OPT_VERBOSE:
            o->srv.verbose = true;
            break;
        case OPT_HELP:
            usage(stdout);
            exit(0);
        default:
            ok = false;
        }
    }
    if (!ok || optind != argc) {
        if (ok) {
            fprintf(stderr, "ks-bench: unexpected argument %s\n", argv[optind]);
        } else if (optind > 0 && optind <= argc) {
            fprintf(stderr, "ks-bench: invalid value for %s\n", argv[optind - 1]);
        }
        usage(stderr);
        return KS_ERR_INVALID_ARG;
    }
    /* The held connections plus the server's own need file descriptors. */
    o->srv.max_connections = o->conns + o->clients + o->open_clients + 64;
    return KS_OK;
}

/* The event log, checked with the verifier's own replay before use. */
static int make_log(unsigned events, uint8_t **ret_log, size_t *ret_len, struct ks_pcr_set *pcrs)
{
    struct ks_eventlog *log = NULL;
    struct ks_pcr_set replayed;
    int r = ks_bench_eventlog_make(events, ret_log, ret_len, pcrs);
    if (r < 0) {
        return r;
    }
    r = ks_eventlog_parse(*ret_log, *ret_len, &log, NULL);
    if (r == KS_OK) {
        r = ks_eventlog_replay(log, &replayed, NULL);
    }
    ks_eventlog_free(log);
    for (unsigned i = 0; r == KS_OK && i < KS_BENCH_EVENTLOG_PCRS; i++) {
        const uint8_t *a, *b;
        if (ks_pcr_set_get(pcrs, TPM2_ALG_SHA256, i, &a) < 0 ||
            ks_pcr_set_get(&replayed, TPM2_ALG_SHA256, i, &b) < 0 || memcmp(a, b, 32) != 0) {
            r = KS_ERR_INTERNAL;
        }
    }
    if (r < 0) {
        fprintf(stderr, "ks-bench: the event log does not replay to its PCRs: %s\n",
                ks_strerror(r));
        free(*ret_log);
        *ret_log = NULL;
    }
    return r;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct result res[2];
    size_t n = 0;
    uint8_t *evlog = NULL;
    size_t evlog_len = 0;
    struct ks_pcr_set pcrs;
    memset(res, 0, sizeof(res));
    if (parse_opts(argc, argv, &o) < 0) {
        return 2;
    }
    if (o.events < KS_BENCH_EVENTLOG_PCRS) {
        fprintf(stderr, "ks-bench: --events must be at least %d (one per PCR 0-7)\n",
                KS_BENCH_EVENTLOG_PCRS);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "ks-bench: curl_global_init failed\n");
        return 3;
    }
    int rc = 0;
    if (make_log(o.events, &evlog, &evlog_len, &pcrs) < 0) {
        rc = 3;
        goto out;
    }
    printf("ks-bench: SOFTWARE attestation keys (benchmark only, not a TPM); event log %zu bytes; "
           "%s release bodies\n",
           evlog_len, o.cbor ? "CBOR" : "JSON");
    if (o.ecdsa) {
        if (bench_one(&o, KS_SOFT_AK_ECDSA_P256, evlog, evlog_len, &pcrs, &res[n]) < 0) {
            rc = 3;
            goto out;
        }
        n++;
    }
    if (o.rsa) {
        if (bench_one(&o, KS_SOFT_AK_RSA_2048, evlog, evlog_len, &pcrs, &res[n]) < 0) {
            rc = 3;
            goto out;
        }
        n++;
    }
    unsigned missed = report(&o, res, n);
    for (size_t i = 0; i < n; i++) {
        if (res[i].closed.errors || res[i].warm.errors || res[i].open.errors) {
            rc = 1;
        }
    }
    if (o.strict && missed) {
        rc = 1;
    }
out:
    free(evlog);
    curl_global_cleanup();
    return rc;
}
