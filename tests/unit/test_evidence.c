/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <stdbool.h>

#include <openssl/evp.h>

#include "encoding.h"
#include "eventlog.h"
#include "ima.h"
#include "keyserverd/evidence.h"
#include "tpm_alg.h"

/*
 * ks_evidence_check_logs (keyserverd/evidence.h): the submitted logs against
 * the quoted PCR values. The oracles are the PCR values of
 * tests/data/eventlogs/expected-pcrs.txt and tests/data/README.md (agreed by
 * several independent tools), and SHA-256 chains computed here with OpenSSL
 * directly for the hand-built application logs.
 */

#define SECUREBOOT "eventlogs/keylime/binary_bios_measurements-secureboot.bin"
#define IMA_ASCII "ima/rust-keylime/ascii_runtime_measurements"

/* expected-pcrs.txt, binary_bios_measurements-secureboot.bin, sha256. */
static const char *const secureboot_sha256[KS_PCR_COUNT] = {
    [0] = "0d993cf4baec1dc2a47013c8bcc13e1593d5e6ba9cc4630f422e98d310212aff",
    [1] = "77092bbdc52a5beab54967053d9ccc8d254f882ccb9c3dd1ae81f0378b3a7db2",
    [2] = "7551ef5fcd14f30f8087b631c90869ec55f71bd4e791bd370855ea1d48d2100a",
    [3] = "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969",
    [4] = "ce5e8ef15f4c1db94e24b2f458dc21c96dd3a530ecf4ee4c9d70bd9a3517088e",
    [5] = "4316832e478197a3729fcaed54ec97989dcd67bc00ca2ac58230a414ff2b5277",
    [6] = "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969",
    [7] = "2f96e1f1bf7f91b6f17e1bcb823e717e43782ff75481237711f2ed7bf8a8edb1",
    [8] = "79019cc5ebc05767cff5469087b629f58c52f0a3380a33a89414f56939197e19",
    [9] = "acd038dd8ec2f7e42a7c5c68e07ae6713962d8835412b1f5632c7e63da36ffc2",
    [14] = "66c465262f16d108fd77f2f94c4ae0040f81b3168242a827fcf5efcd812de053",
};

/* tests/data/README.md: the whole rust-keylime list replays PCR 10 to these. */
#define IMA_FULL_SHA1 "82231c67a69da98dc5b3aa10f6343d33109225fc"
#define IMA_FULL_SHA256 "c4a065637fc6a7c55f2811dd06cb45dd037133be2b3dc5c3e6fbe6bf061db724"

#define ALL_PCRS 0xffffffu
#define PCRS_0_7 0xffu

/* ---- selections and quoted values ----------------------------------------- */

static void sel_add(TPML_PCR_SELECTION *sel, uint16_t alg, uint32_t mask)
{
    assert_true(sel->count < TPM2_NUM_PCR_BANKS);
    TPMS_PCR_SELECTION *s = &sel->pcrSelections[sel->count++];
    s->hash = alg;
    s->sizeofSelect = 3;
    s->pcrSelect[0] = (uint8_t)mask;
    s->pcrSelect[1] = (uint8_t)(mask >> 8);
    s->pcrSelect[2] = (uint8_t)(mask >> 16);
}

static void put_hex(struct ks_pcr_set *set, uint16_t alg, unsigned pcr, const char *hex)
{
    uint8_t d[KS_MAX_DIGEST];
    size_t n = ks_alg_digest_size(alg);
    assert_int_equal(strlen(hex), 2 * n);
    assert_int_equal(ks_hex_decode_fixed(hex, d, n), KS_OK);
    assert_int_equal(ks_pcr_set_put(set, alg, pcr, d, n), KS_OK);
}

static void put_fill(struct ks_pcr_set *set, uint16_t alg, unsigned pcr, uint8_t v)
{
    uint8_t d[KS_MAX_DIGEST];
    memset(d, v, sizeof(d));
    assert_int_equal(ks_pcr_set_put(set, alg, pcr, d, ks_alg_digest_size(alg)), KS_OK);
}

/* The quoted values of a TPM whose firmware wrote the secureboot log: the
 * oracle's values, and zero (the reset value) for every PCR the log does not
 * touch; exactly the PCRs of `mask` in the sha256 bank. */
static void secureboot_quote(uint32_t mask, TPML_PCR_SELECTION *sel, struct ks_pcr_set *quoted)
{
    memset(sel, 0, sizeof(*sel));
    ks_pcr_set_init(quoted);
    sel_add(sel, KS_ALG_SHA256, mask);
    for (unsigned pcr = 0; pcr < KS_PCR_COUNT; pcr++) {
        if (!(mask & (1u << pcr))) {
            continue;
        }
        if (secureboot_sha256[pcr]) {
            put_hex(quoted, KS_ALG_SHA256, pcr, secureboot_sha256[pcr]);
        } else {
            put_fill(quoted, KS_ALG_SHA256, pcr, 0);
        }
    }
}

static void flip(struct ks_pcr_set *set, uint16_t alg, unsigned pcr)
{
    set->bank[ks_alg_bank_index(alg)].value[pcr][0] ^= 0x01;
}

struct run {
    struct ks_evidence_logs logs;
    char reason[KS_EVIDENCE_REASON_MAX];
};

static int check(struct run *r, const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *quoted)
{
    memset(r->reason, 'X', sizeof(r->reason));
    r->reason[sizeof(r->reason) - 1] = '\0';
    int rc = ks_evidence_check_logs(&r->logs, sel, quoted, r->reason, sizeof(r->reason));
    assert_true(strlen(r->reason) < sizeof(r->reason));
    return rc;
}

static void run_init(struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->logs.app_pcr = 15;
}

/* ---- hand-built TCG logs (PFP 10.2.1 header, 10.2.2 TCG_PCR_EVENT2) ------- */

struct bld {
    uint8_t *p;
    size_t len;
};

static void put(struct bld *b, const void *d, size_t n)
{
    b->p = realloc(b->p, b->len + n + 1);
    assert_non_null(b->p);
    if (n) {
        memcpy(b->p + b->len, d, n);
    }
    b->len += n;
}

static void put8(struct bld *b, uint8_t v)
{
    put(b, &v, 1);
}

static void put16(struct bld *b, uint16_t v)
{
    uint8_t d[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, d, 2);
}

static void put32(struct bld *b, uint32_t v)
{
    uint8_t d[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, d, 4);
}

/* SHA-1 format Spec ID Event03 header declaring sha256 only. */
static void put_specid_sha256(struct bld *b)
{
    static const uint8_t zero[20] = {0};
    put32(b, 0);
    put32(b, 3); /* EV_NO_ACTION */
    put(b, zero, 20);
    put32(b, 16 + 4 + 4 + 4 + 4 + 1);
    put(b, "Spec ID Event03", 16);
    put32(b, 0); /* platformClass */
    put8(b, 0);  /* specVersionMinor */
    put8(b, 2);  /* specVersionMajor */
    put8(b, 0);  /* specErrata */
    put8(b, 2);  /* uintnSize */
    put32(b, 1);
    put16(b, KS_ALG_SHA256);
    put16(b, 32);
    put8(b, 0); /* vendorInfoSize */
}

static void sha256(const void *a, size_t alen, const void *c, size_t clen, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, a, alen), 1);
    if (clen) {
        assert_int_equal(EVP_DigestUpdate(ctx, c, clen), 1);
    }
    assert_int_equal(EVP_DigestFinal_ex(ctx, out, NULL), 1);
    EVP_MD_CTX_free(ctx);
}

/* An EV_EVENT_TAG (0x6) event of the measured launcher: a tag followed by
 * the SHA-256 it measured; the event digest is SHA-256 of the data. Extends
 * `pcr_value` (sha256) the way a TPM does. */
static void put_tag_event(struct bld *b, uint32_t pcr, const char *tag, uint8_t seed,
                          uint8_t pcr_value[32])
{
    uint8_t data[64 + 32];
    size_t tlen = strlen(tag);
    assert_true(tlen <= 64);
    memcpy(data, tag, tlen);
    memset(data + tlen, seed, 32);
    uint8_t digest[32];
    sha256(data, tlen + 32, NULL, 0, digest);
    put32(b, pcr);
    put32(b, 6); /* EV_EVENT_TAG */
    put32(b, 1);
    put16(b, KS_ALG_SHA256);
    put(b, digest, 32);
    put32(b, (uint32_t)(tlen + 32));
    put(b, data, tlen + 32);
    sha256(pcr_value, 32, digest, 32, pcr_value);
}

/* The reference launcher's application log on `pcr`; *ret_pcr is the PCR
 * value it replays to. */
static struct bld app_log(uint32_t pcr, uint8_t ret_pcr[32])
{
    struct bld b = {0};
    memset(ret_pcr, 0, 32);
    put_specid_sha256(&b);
    put_tag_event(&b, pcr, "ks-loader-exe", 0x01, ret_pcr);
    put_tag_event(&b, pcr, "ks-loader-config", 0x02, ret_pcr);
    put_tag_event(&b, pcr, "ks-ci-key", 0x03, ret_pcr);
    return b;
}

/* ---- firmware log ---------------------------------------------------------- */

static void test_firmware_log_accepted(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *log = unit_read(SECUREBOOT, &len);
    struct run r;
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set quoted;
    run_init(&r);
    r.logs.event_log = log;
    r.logs.event_log_len = len;

    /* The oracle's values are what the log's own replay gives. */
    struct ks_eventlog *parsed = NULL;
    struct ks_pcr_set replayed;
    assert_int_equal(ks_eventlog_parse(log, len, &parsed, NULL), KS_OK);
    assert_int_equal(ks_eventlog_replay(parsed, &replayed, NULL), KS_OK);
    ks_eventlog_free(parsed);
    secureboot_quote(PCRS_0_7, &sel, &quoted);
    for (unsigned pcr = 0; pcr < 8; pcr++) {
        const uint8_t *a = NULL, *b = NULL;
        assert_int_equal(ks_pcr_set_get(&replayed, KS_ALG_SHA256, pcr, &a), KS_OK);
        assert_int_equal(ks_pcr_set_get(&quoted, KS_ALG_SHA256, pcr, &b), KS_OK);
        assert_memory_equal(a, b, 32);
    }

    /* PCRs 0-7, the usual firmware selection. */
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);
    assert_string_equal(r.reason, "");
    /* Every PCR the log touches, and all 24 (the rest at their reset value). */
    secureboot_quote(0x3ffu | 1u << 14, &sel, &quoted);
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);
    secureboot_quote(ALL_PCRS, &sel, &quoted);
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);
    /* One PCR the log has events for. */
    secureboot_quote(1u << 7, &sel, &quoted);
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);

    /* A bank the log does not carry is not judged by it (the policy judges
     * the quoted values); the sha256 bank still is. */
    secureboot_quote(PCRS_0_7, &sel, &quoted);
    sel_add(&sel, KS_ALG_SHA1, PCRS_0_7);
    for (unsigned pcr = 0; pcr < 8; pcr++) {
        put_fill(&quoted, KS_ALG_SHA1, pcr, (uint8_t)(0xa0 + pcr));
    }
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);
    flip(&quoted, KS_ALG_SHA256, 3);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "event log does not replay to the quoted PCR sha256:3");
    free(log);
}

static void test_firmware_log_pcr_changed(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *log = unit_read(SECUREBOOT, &len);
    struct run r;
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set quoted;
    run_init(&r);
    r.logs.event_log = log;
    r.logs.event_log_len = len;
    static const unsigned pcrs[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14};
    for (size_t i = 0; i < sizeof(pcrs) / sizeof(pcrs[0]); i++) {
        secureboot_quote(ALL_PCRS, &sel, &quoted);
        flip(&quoted, KS_ALG_SHA256, pcrs[i]);
        assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
        char want[80];
        snprintf(want, sizeof(want), "event log does not replay to the quoted PCR sha256:%u",
                 pcrs[i]);
        assert_string_equal(r.reason, want);
    }

    /* One digest in the log changed: the first sha256 digest of an event on
     * PCR 7, edited in the submitted bytes. */
    struct ks_eventlog *parsed = NULL;
    assert_int_equal(ks_eventlog_parse(log, len, &parsed, NULL), KS_OK);
    uint8_t needle[32];
    size_t rec_off = 0, rec_len = 0;
    bool found = false;
    for (size_t i = 0; i < ks_eventlog_count(parsed) && !found; i++) {
        const struct ks_eventlog_event *ev = ks_eventlog_event(parsed, i);
        const struct ks_eventlog_digest *d = ks_eventlog_event_digest(ev, KS_ALG_SHA256);
        if (ev->pcr == 7 && d) {
            memcpy(needle, d->bytes, 32);
            rec_off = ev->offset;
            rec_len = ev->record_len;
            found = true;
        }
    }
    assert_true(found);
    ks_eventlog_free(parsed);
    uint8_t *hit = memmem(log + rec_off, rec_len, needle, 32);
    assert_non_null(hit);
    hit[5] ^= 0x80;
    secureboot_quote(PCRS_0_7, &sel, &quoted);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "event log does not replay to the quoted PCR sha256:7");
    free(log);
}

static void test_firmware_log_untouched_pcr(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *log = unit_read(SECUREBOOT, &len);
    struct run r;
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set quoted;
    run_init(&r);
    r.logs.event_log = log;
    r.logs.event_log_len = len;
    /* The log has no events for PCR 11: the quote must show its reset
     * value, else events were left out of the log. */
    secureboot_quote(PCRS_0_7 | 1u << 11, &sel, &quoted);
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);
    put_fill(&quoted, KS_ALG_SHA256, 11, 0x11);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "event log does not replay to the quoted PCR sha256:11");
    /* Without an application log the firmware log answers for PCR 15 and,
     * without an IMA log, for PCR 10 too. */
    static const unsigned others[] = {10, 15, 23};
    for (size_t i = 0; i < 3; i++) {
        secureboot_quote(PCRS_0_7 | 1u << others[i], &sel, &quoted);
        assert_int_equal(check(&r, &sel, &quoted), KS_OK);
        put_fill(&quoted, KS_ALG_SHA256, others[i], 0xff);
        assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
        char want[80];
        snprintf(want, sizeof(want), "event log does not replay to the quoted PCR sha256:%u",
                 others[i]);
        assert_string_equal(r.reason, want);
    }
    free(log);
}

/* ---- IMA --------------------------------------------------------------- */

/* The rust-keylime list in the binary form (what a loader submits). */
static uint8_t *ima_binary(size_t *ret_len, struct ks_ima_log **ret_log)
{
    size_t alen = 0;
    uint8_t *ascii = unit_read(IMA_ASCII, &alen);
    struct ks_ima_log *log = NULL;
    assert_int_equal(ks_ima_log_parse(ascii, alen, NULL, &log, NULL), KS_OK);
    free(ascii);
    assert_int_equal(ks_ima_log_count(log), 826);
    uint8_t *bin = NULL;
    assert_int_equal(ks_ima_log_to_binary(log, &bin, ret_len), KS_OK);
    *ret_log = log;
    return bin;
}

static void test_ima_prefix(void **state)
{
    (void)state;
    struct ks_ima_log *parsed = NULL;
    size_t len = 0;
    uint8_t *bin = ima_binary(&len, &parsed);
    struct run r;
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set quoted;
    run_init(&r);
    r.logs.ima_log = bin;
    r.logs.ima_log_len = len;

    /* The whole list, both banks: the oracle's PCR 10 values. */
    memset(&sel, 0, sizeof(sel));
    ks_pcr_set_init(&quoted);
    sel_add(&sel, KS_ALG_SHA1, 1u << 10);
    sel_add(&sel, KS_ALG_SHA256, 1u << 10);
    put_hex(&quoted, KS_ALG_SHA1, 10, IMA_FULL_SHA1);
    put_hex(&quoted, KS_ALG_SHA256, 10, IMA_FULL_SHA256);
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);
    assert_string_equal(r.reason, "");

    /* The quote was taken after 400 entries; 426 were appended before the
     * list was read: accepted (the shortest matching prefix). */
    struct ks_pcr_set prefix;
    ks_pcr_set_init(&prefix);
    assert_int_equal(ks_ima_log_replay(parsed, 400, KS_ALG_SHA1, &prefix), KS_OK);
    assert_int_equal(ks_ima_log_replay(parsed, 400, KS_ALG_SHA256, &prefix), KS_OK);
    const uint8_t *v = NULL;
    assert_int_equal(ks_pcr_set_get(&prefix, KS_ALG_SHA256, 10, &v), KS_OK);
    assert_int_equal(ks_pcr_set_put(&quoted, KS_ALG_SHA256, 10, v, 32), KS_OK);
    assert_int_equal(ks_pcr_set_get(&prefix, KS_ALG_SHA1, 10, &v), KS_OK);
    assert_int_equal(ks_pcr_set_put(&quoted, KS_ALG_SHA1, 10, v, 20), KS_OK);
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);
    /* Each bank is judged, and all against one prefix: a sha1 value of a
     * longer prefix than the sha256 value's is refused (regression: each
     * bank used to be matched on its own, so the "evaluated prefix" was
     * ambiguous). */
    struct ks_pcr_set other;
    ks_pcr_set_init(&other);
    assert_int_equal(ks_ima_log_replay(parsed, 401, KS_ALG_SHA1, &other), KS_OK);
    assert_int_equal(ks_pcr_set_get(&other, KS_ALG_SHA1, 10, &v), KS_OK);
    assert_int_equal(ks_pcr_set_put(&quoted, KS_ALG_SHA1, 10, v, 20), KS_OK);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason,
                        "IMA log replays to the quoted PCR sha256:10 at 400 entries, another "
                        "bank at 401");
    /* A sha1 value no prefix reaches. */
    flip(&quoted, KS_ALG_SHA1, 10);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "IMA log does not replay to the quoted PCR sha1:10");

    /* A PCR 10 value no prefix reaches. */
    memset(&sel, 0, sizeof(sel));
    ks_pcr_set_init(&quoted);
    sel_add(&sel, KS_ALG_SHA256, 1u << 10);
    put_hex(&quoted, KS_ALG_SHA256, 10, IMA_FULL_SHA256);
    flip(&quoted, KS_ALG_SHA256, 10);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "IMA log does not replay to the quoted PCR sha256:10");

    /* An IMA list with a quote that does not select PCR 10. */
    memset(&sel, 0, sizeof(sel));
    ks_pcr_set_init(&quoted);
    sel_add(&sel, KS_ALG_SHA256, 1u << 11);
    put_fill(&quoted, KS_ALG_SHA256, 11, 0);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "IMA log submitted but the quote does not select PCR 10");

    ks_ima_log_free(parsed);
    free(bin);
}

static void test_ima_with_firmware_log(void **state)
{
    (void)state;
    struct ks_ima_log *parsed = NULL;
    size_t ilen = 0, flen = 0;
    uint8_t *ima = ima_binary(&ilen, &parsed);
    uint8_t *fw = unit_read(SECUREBOOT, &flen);
    struct run r;
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set quoted;
    run_init(&r);
    r.logs.event_log = fw;
    r.logs.event_log_len = flen;
    r.logs.ima_log = ima;
    r.logs.ima_log_len = ilen;
    /* PCR 10 belongs to the IMA list once one is submitted: the firmware
     * log no longer requires it at its reset value. */
    secureboot_quote(PCRS_0_7 | 1u << 10, &sel, &quoted);
    put_hex(&quoted, KS_ALG_SHA256, 10, IMA_FULL_SHA256);
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);
    flip(&quoted, KS_ALG_SHA256, 0);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "event log does not replay to the quoted PCR sha256:0");
    /* Without the IMA list, the firmware log answers for PCR 10. */
    secureboot_quote(PCRS_0_7 | 1u << 10, &sel, &quoted);
    put_hex(&quoted, KS_ALG_SHA256, 10, IMA_FULL_SHA256);
    r.logs.ima_log = NULL;
    r.logs.ima_log_len = 0;
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "event log does not replay to the quoted PCR sha256:10");
    ks_ima_log_free(parsed);
    free(ima);
    free(fw);
}

static void test_ima_template_hash_mismatch(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *ascii = unit_read("ima/keylime/test_ima_verification.bad_signatures.txt", &len);
    struct ks_ima_log *parsed = NULL;
    assert_int_equal(ks_ima_log_parse(ascii, len, NULL, &parsed, NULL), KS_OK);
    free(ascii);
    /* Submitted in the binary form, as the protocol requires. */
    uint8_t *buf = NULL;
    assert_int_equal(ks_ima_log_to_binary(parsed, &buf, &len), KS_OK);
    assert_int_equal(ks_ima_log_bad_template_hashes(parsed), 1);
    /* The sha1 bank extends the template hash as written, so the quoted
     * value matches; the entry's data does not. */
    struct ks_pcr_set quoted;
    ks_pcr_set_init(&quoted);
    assert_int_equal(ks_ima_log_replay(parsed, ks_ima_log_count(parsed), KS_ALG_SHA1, &quoted),
                     KS_OK);
    TPML_PCR_SELECTION sel;
    memset(&sel, 0, sizeof(sel));
    sel_add(&sel, KS_ALG_SHA1, 1u << 10);
    struct run r;
    run_init(&r);
    r.logs.ima_log = buf;
    r.logs.ima_log_len = len;
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "IMA entry 0: template hash does not match its data");
    ks_ima_log_free(parsed);
    free(buf);
}

/* ---- application log --------------------------------------------------- */

static void test_app_log(void **state)
{
    (void)state;
    uint8_t pcr15[32];
    struct bld app = app_log(15, pcr15);
    size_t flen = 0;
    uint8_t *fw = unit_read(SECUREBOOT, &flen);
    struct run r;
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set quoted;
    run_init(&r);
    r.logs.app_log = app.p;
    r.logs.app_log_len = app.len;

    /* Alone, on PCR 15. */
    memset(&sel, 0, sizeof(sel));
    ks_pcr_set_init(&quoted);
    sel_add(&sel, KS_ALG_SHA256, 1u << 15);
    assert_int_equal(ks_pcr_set_put(&quoted, KS_ALG_SHA256, 15, pcr15, 32), KS_OK);
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);
    flip(&quoted, KS_ALG_SHA256, 15);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "application log does not replay to the quoted PCR sha256:15");

    /* With the firmware log, which then does not answer for PCR 15. */
    r.logs.event_log = fw;
    r.logs.event_log_len = flen;
    secureboot_quote(PCRS_0_7 | 1u << 15, &sel, &quoted);
    assert_int_equal(ks_pcr_set_put(&quoted, KS_ALG_SHA256, 15, pcr15, 32), KS_OK);
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);
    flip(&quoted, KS_ALG_SHA256, 15);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "application log does not replay to the quoted PCR sha256:15");
    /* The firmware PCRs are still judged with an application log. */
    assert_int_equal(ks_pcr_set_put(&quoted, KS_ALG_SHA256, 15, pcr15, 32), KS_OK);
    flip(&quoted, KS_ALG_SHA256, 5);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "event log does not replay to the quoted PCR sha256:5");

    /* The application PCR is configurable: with --app-pcr 12 the same log
     * measures a PCR it does not own. The firmware log, checked first, then
     * answers for PCR 15 and finds it not at its reset value. */
    secureboot_quote(PCRS_0_7 | 1u << 15, &sel, &quoted);
    assert_int_equal(ks_pcr_set_put(&quoted, KS_ALG_SHA256, 15, pcr15, 32), KS_OK);
    r.logs.app_pcr = 12;
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "event log does not replay to the quoted PCR sha256:15");
    r.logs.event_log = NULL;
    r.logs.event_log_len = 0;
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "application log has events for PCR 15, which another log "
                                  "measures");
    r.logs.event_log = fw;
    r.logs.event_log_len = flen;
    free(app.p);

    /* An application log on the right PCR, at --app-pcr 12. */
    uint8_t pcr12[32];
    app = app_log(12, pcr12);
    r.logs.app_log = app.p;
    r.logs.app_log_len = app.len;
    secureboot_quote(PCRS_0_7 | 1u << 12, &sel, &quoted);
    assert_int_equal(ks_pcr_set_put(&quoted, KS_ALG_SHA256, 12, pcr12, 32), KS_OK);
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);
    free(app.p);
    free(fw);
}

static void test_app_log_foreign_events(void **state)
{
    (void)state;
    uint8_t pcr0[32], pcr15[32], v[32];
    /* An application log that also extends PCR 7 (a firmware PCR). */
    struct bld app = {0};
    memset(pcr15, 0, 32);
    memset(v, 0, 32);
    put_specid_sha256(&app);
    put_tag_event(&app, 15, "ks-loader-exe", 1, pcr15);
    put_tag_event(&app, 7, "ks-ci-key", 3, v);
    struct run r;
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set quoted;
    run_init(&r);
    r.logs.app_log = app.p;
    r.logs.app_log_len = app.len;
    memset(&sel, 0, sizeof(sel));
    ks_pcr_set_init(&quoted);
    sel_add(&sel, KS_ALG_SHA256, 1u << 15);
    assert_int_equal(ks_pcr_set_put(&quoted, KS_ALG_SHA256, 15, pcr15, 32), KS_OK);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason,
                        "application log has events for PCR 7, which another log measures");
    free(app.p);

    /* A firmware log with events for the application PCR: accepted alone
     * (it then owns PCR 15), refused next to an application log. */
    struct bld fw = {0};
    memset(pcr0, 0, 32);
    memset(pcr15, 0, 32);
    put_specid_sha256(&fw);
    put_tag_event(&fw, 0, "firmware", 9, pcr0);
    put_tag_event(&fw, 15, "ks-loader-exe", 1, pcr15);
    run_init(&r);
    r.logs.event_log = fw.p;
    r.logs.event_log_len = fw.len;
    memset(&sel, 0, sizeof(sel));
    ks_pcr_set_init(&quoted);
    sel_add(&sel, KS_ALG_SHA256, 1u << 0 | 1u << 15);
    assert_int_equal(ks_pcr_set_put(&quoted, KS_ALG_SHA256, 0, pcr0, 32), KS_OK);
    assert_int_equal(ks_pcr_set_put(&quoted, KS_ALG_SHA256, 15, pcr15, 32), KS_OK);
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);
    uint8_t app15[32];
    app = app_log(15, app15);
    r.logs.app_log = app.p;
    r.logs.app_log_len = app.len;
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "event log has events for PCR 15, which another log measures");
    /* Also when the quoted PCR 15 is the application log's value. */
    assert_int_equal(ks_pcr_set_put(&quoted, KS_ALG_SHA256, 15, app15, 32), KS_OK);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "event log has events for PCR 15, which another log measures");
    free(app.p);

    /* A firmware log with events for PCR 10 next to an IMA list. */
    struct ks_ima_log *parsed = NULL;
    size_t ilen = 0;
    uint8_t *ima = ima_binary(&ilen, &parsed);
    struct bld fw10 = {0};
    memset(v, 0, 32);
    put_specid_sha256(&fw10);
    put_tag_event(&fw10, 10, "not-ima", 4, v);
    run_init(&r);
    r.logs.event_log = fw10.p;
    r.logs.event_log_len = fw10.len;
    r.logs.ima_log = ima;
    r.logs.ima_log_len = ilen;
    memset(&sel, 0, sizeof(sel));
    ks_pcr_set_init(&quoted);
    sel_add(&sel, KS_ALG_SHA256, 1u << 10);
    put_hex(&quoted, KS_ALG_SHA256, 10, IMA_FULL_SHA256);
    assert_int_equal(check(&r, &sel, &quoted), KS_ERR_ATTESTATION);
    assert_string_equal(r.reason, "event log has events for PCR 10, which another log measures");
    ks_ima_log_free(parsed);
    free(ima);
    free(fw10.p);
    free(fw.p);
}

/* ---- malformed logs and arguments -------------------------------------- */

static void expect_code(struct run *r, const TPML_PCR_SELECTION *sel,
                        const struct ks_pcr_set *quoted, int code, const char *reason_prefix)
{
    assert_int_equal(check(r, sel, quoted), code);
    if (strncmp(r->reason, reason_prefix, strlen(reason_prefix)) != 0) {
        fail_msg("reason '%s' does not start with '%s'", r->reason, reason_prefix);
    }
}

static void test_malformed_logs(void **state)
{
    (void)state;
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set quoted;
    struct run r;
    secureboot_quote(PCRS_0_7 | 1u << 10 | 1u << 15, &sel, &quoted);
    size_t len = 0;
    uint8_t *buf;

    run_init(&r);
    buf = unit_read("eventlogs/keylime/binary_bios_measurements-bogus.bin", &len);
    r.logs.event_log = buf;
    r.logs.event_log_len = len;
    expect_code(&r, &sel, &quoted, KS_ERR_EVLOG_PCR_INDEX, "event log malformed at byte ");
    /* The same bytes as an application log. */
    run_init(&r);
    r.logs.app_log = buf;
    r.logs.app_log_len = len;
    expect_code(&r, &sel, &quoted, KS_ERR_EVLOG_PCR_INDEX, "application log malformed at byte ");
    /* Empty (a non-NULL log of 0 bytes). */
    run_init(&r);
    r.logs.event_log = buf;
    r.logs.event_log_len = 0;
    expect_code(&r, &sel, &quoted, KS_ERR_EVLOG_EMPTY, "event log malformed at byte 0");
    free(buf);

    run_init(&r);
    buf = unit_read("eventlogs/tpm2-tools/specid-vendordata.bin", &len);
    r.logs.event_log = buf;
    r.logs.event_log_len = len;
    expect_code(&r, &sel, &quoted, KS_ERR_EVLOG_SPECID, "event log malformed at byte ");
    free(buf);

    /* A good log cut short. */
    run_init(&r);
    buf = unit_read(SECUREBOOT, &len);
    r.logs.event_log = buf;
    r.logs.event_log_len = len - 1;
    expect_code(&r, &sel, &quoted, KS_ERR_EVLOG_TRUNCATED, "event log malformed at byte ");
    free(buf);

    run_init(&r);
    buf = unit_read("ima/rust-keylime/invalid_ima_log.txt", &len);
    r.logs.ima_log = buf;
    r.logs.ima_log_len = len;
    /* The ASCII rendering is refused: the protocol carries the binary list
     * (its first bytes read as an impossible PCR index). */
    expect_code(&r, &sel, &quoted, KS_ERR_IMA_PCR_INDEX, "IMA log malformed at 0: ");
    r.logs.ima_log_len = 0;
    expect_code(&r, &sel, &quoted, KS_ERR_IMA_EMPTY, "IMA log malformed at 0: ");
    free(buf);

    /* A binary IMA list cut inside its last entry, and one whose first
     * entry names PCR 30. */
    struct ks_ima_log *parsed = NULL;
    buf = ima_binary(&len, &parsed);
    run_init(&r);
    r.logs.ima_log = buf;
    r.logs.ima_log_len = len - 3;
    expect_code(&r, &sel, &quoted, KS_ERR_IMA_TRUNCATED, "IMA log malformed at ");
    r.logs.ima_log_len = len;
    assert_int_equal(buf[0], 10);
    buf[0] = 30;
    expect_code(&r, &sel, &quoted, KS_ERR_IMA_PCR_INDEX, "IMA log malformed at 0: ");
    ks_ima_log_free(parsed);
    free(buf);
}

static void test_no_logs_and_args(void **state)
{
    (void)state;
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set quoted;
    struct run r;
    secureboot_quote(ALL_PCRS, &sel, &quoted);
    flip(&quoted, KS_ALG_SHA256, 0);
    /* No logs: nothing to replay; the policy judges the quoted values. */
    run_init(&r);
    assert_int_equal(check(&r, &sel, &quoted), KS_OK);
    assert_string_equal(r.reason, "");

    char reason[16] = "stale";
    assert_int_equal(ks_evidence_check_logs(NULL, &sel, &quoted, reason, sizeof(reason)),
                     KS_ERR_INVALID_ARG);
    assert_string_equal(reason, "");
    assert_int_equal(ks_evidence_check_logs(&r.logs, NULL, &quoted, reason, sizeof(reason)),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_evidence_check_logs(&r.logs, &sel, NULL, reason, sizeof(reason)),
                     KS_ERR_INVALID_ARG);
    /* The application PCR can be neither IMA's nor out of range. */
    r.logs.app_pcr = 10;
    assert_int_equal(ks_evidence_check_logs(&r.logs, &sel, &quoted, reason, sizeof(reason)),
                     KS_ERR_INVALID_ARG);
    r.logs.app_pcr = KS_PCR_COUNT;
    assert_int_equal(ks_evidence_check_logs(&r.logs, &sel, &quoted, reason, sizeof(reason)),
                     KS_ERR_INVALID_ARG);

    /* A refusal with no reason buffer, and with a tiny one. */
    size_t len = 0;
    uint8_t *buf = unit_read(SECUREBOOT, &len);
    run_init(&r);
    r.logs.event_log = buf;
    r.logs.event_log_len = len;
    assert_int_equal(ks_evidence_check_logs(&r.logs, &sel, &quoted, NULL, 0), KS_ERR_ATTESTATION);
    char tiny[6];
    assert_int_equal(ks_evidence_check_logs(&r.logs, &sel, &quoted, tiny, sizeof(tiny)),
                     KS_ERR_ATTESTATION);
    assert_string_equal(tiny, "event");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_firmware_log_accepted),
        cmocka_unit_test(test_firmware_log_pcr_changed),
        cmocka_unit_test(test_firmware_log_untouched_pcr),
        cmocka_unit_test(test_ima_prefix),
        cmocka_unit_test(test_ima_with_firmware_log),
        cmocka_unit_test(test_ima_template_hash_mismatch),
        cmocka_unit_test(test_app_log),
        cmocka_unit_test(test_app_log_foreign_events),
        cmocka_unit_test(test_malformed_logs),
        cmocka_unit_test(test_no_logs_and_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
