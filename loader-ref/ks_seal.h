/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_SEAL_CLI_H
#define KS_SEAL_CLI_H

/* ks-seal's command groups (ks_seal.c: model and sealed files;
 * ks_seal_program.c: the CI key and program manifests; ks_seal_debug.c:
 * unseal and run-plaintext; ks_seal_split.c: k-of-n key shares). */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

void ks_seal_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Exit status for a KS_ERR_* (0 ok, 1 refused/invalid data, 2 usage, 3
 * internal), after printing "ks-seal: WHAT: message" for a failure. */
int ks_seal_fail(const char *what, int r);

/* Parse a decimal unsigned integer in [lo, hi]; prints and returns false on
 * error. */
bool ks_seal_parse_u64(const char *opt, const char *arg, uint64_t lo, uint64_t hi, uint64_t *ret);

/* SHA-256 of a file and its size (prints on error). */
int ks_seal_file_sha256(const char *path, uint8_t out[32], uint64_t *ret_len);

/* Create `path` for writing with `mode` (O_EXCL unless force), as a FILE. */
FILE *ks_seal_create(const char *path, int mode, bool force);

/* The exit status after ks_seal_create failed: 2 if the file exists, else 3. */
int ks_seal_create_exit(void);

int ks_seal_cmd_unseal(int argc, char **argv);
int ks_seal_cmd_run_plaintext(int argc, char **argv);
int ks_seal_cmd_ci_keygen(int argc, char **argv);
int ks_seal_cmd_sign_program(int argc, char **argv);
int ks_seal_cmd_verify_program(int argc, char **argv);
int ks_seal_cmd_split_key(int argc, char **argv); /* ks_seal_split.c */

#endif
