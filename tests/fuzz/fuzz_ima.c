/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ima.h"

/*
 * IMA measurement lists, ASCII and binary: parse (auto-detected and forced
 * formats, SHA-1 and SHA-256 template hashes), replay every bank, search a
 * prefix, serialise and parse back. Beyond "no crash, no leak" it checks
 * properties that must hold for any input the parser accepts; a violation
 * aborts so that libFuzzer reports it.
 */

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

static void exercise(const struct ks_ima_log *log, const struct ks_ima_parse_opts *opts)
{
    static const uint16_t banks[] = {KS_ALG_SHA1, KS_ALG_SHA256, KS_ALG_SHA384, KS_ALG_SHA512};
    size_t count = ks_ima_log_count(log);
    check(count > 0);

    for (size_t b = 0; b < sizeof(banks) / sizeof(banks[0]); b++) {
        struct ks_pcr_set set;
        const uint8_t *v;
        size_t size = ks_alg_digest_size(banks[b]);
        /* PCR 10 after the first half: the shortest matching prefix is no
         * longer than that, and replays to the same value */
        ks_pcr_set_init(&set);
        check(ks_ima_log_replay(log, count / 2, banks[b], &set) == KS_OK);
        check(ks_pcr_set_get(&set, banks[b], KS_IMA_PCR, &v) == KS_OK);
        uint8_t want[KS_MAX_DIGEST];
        memcpy(want, v, size);
        size_t n = SIZE_MAX;
        check(ks_ima_log_match_prefix(log, banks[b], want, size, &n) == KS_OK);
        check(n <= count / 2);
        ks_pcr_set_init(&set);
        check(ks_ima_log_replay(log, n, banks[b], &set) == KS_OK);
        check(ks_pcr_set_get(&set, banks[b], KS_IMA_PCR, &v) == KS_OK);
        check(memcmp(v, want, size) == 0);

        ks_pcr_set_init(&set);
        check(ks_ima_log_replay(log, count, banks[b], &set) == KS_OK);
    }

    /* the binary form parses back to the same entries */
    uint8_t *bin = NULL;
    size_t len = 0;
    struct ks_ima_log *back = NULL;
    struct ks_ima_parse_opts bopts = *opts;
    bopts.format = KS_IMA_FORMAT_BINARY;
    check(ks_ima_log_to_binary(log, &bin, &len) == KS_OK);
    check(ks_ima_log_parse(bin, len, &bopts, &back, NULL) == KS_OK);
    check(ks_ima_log_count(back) == count);
    check(ks_ima_log_bad_template_hashes(back) == ks_ima_log_bad_template_hashes(log));
    for (size_t i = 0; i < count; i++) {
        const struct ks_ima_entry *x = ks_ima_log_entry(log, i);
        const struct ks_ima_entry *y = ks_ima_log_entry(back, i);
        check(x->pcr == y->pcr && x->template_id == y->template_id);
        check(x->data_len == y->data_len && memcmp(x->data, y->data, x->data_len) == 0);
        check(memcmp(x->template_hash, y->template_hash, x->template_hash_len) == 0);
        check(strcmp(x->path, y->path) == 0 && x->path_len == strlen(x->path));
    }
    ks_ima_log_free(back);
    free(bin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum ks_ima_format formats[] = {KS_IMA_FORMAT_AUTO, KS_IMA_FORMAT_ASCII,
                                                 KS_IMA_FORMAT_BINARY};
    static const enum ks_ima_hash talgs[] = {KS_IMA_HASH_SHA1, KS_IMA_HASH_SHA256};

    for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
        for (size_t t = 0; t < sizeof(talgs) / sizeof(talgs[0]); t++) {
            struct ks_ima_parse_opts opts = {.format = formats[f], .template_alg = talgs[t]};
            struct ks_ima_log *log = NULL;
            size_t pos = 0;
            if (ks_ima_log_parse(data, size, &opts, &log, &pos) == KS_OK) {
                exercise(log, &opts);
                ks_ima_log_free(log);
            } else {
                check(log == NULL);
            }
        }
    }
    return 0;
}
