/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KSCTL_CMD_OPS_H
#define KSCTL_CMD_OPS_H

/*
 * Subcommands of the operations work, dispatched from the group files:
 * `ksctl key rotate|retire|delete|attach` (policy/cmd_key_ops.c),
 * `ksctl key show|public` (policy/cmd_key_show.c) and `ksctl audit
 * export|prune` (policy/cmd_audit_ops.c). Each takes argv starting at the
 * subcommand name and returns the exit status.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/store.h"

int ksctl_key_rotate(int argc, char **argv);
int ksctl_key_retire(int argc, char **argv);
int ksctl_key_delete(int argc, char **argv);
int ksctl_key_attach(int argc, char **argv);
int ksctl_key_show(int argc, char **argv);
int ksctl_key_public(int argc, char **argv);
int ksctl_audit_export(int argc, char **argv);
int ksctl_audit_prune(int argc, char **argv);

/* Imported key material is exactly this long (a DEK, a share of one, or a
 * raw X25519 private key). */
#define KSCTL_KEY_LEN 32

/*
 * Read exactly KSCTL_KEY_LEN bytes of key material from `path` (NULL or
 * "-": standard input, never a terminal) into `buf` (KSCTL_KEY_LEN + 1
 * bytes, so that one byte too many is seen). Prints the problem as
 * "ksctl: CMD: ..." and returns KS_ERR_* (policy/cmd_key.c).
 */
int ksctl_key_read_material(const char *cmd, const char *path, uint8_t *buf, size_t *ret_len);

/* "NAME" or "NAME@N" (N in 1..2^32-1, no leading zero): the name and N (0
 * for "NAME"). False for anything else. */
bool ksctl_key_ref_parse(const char *ref, char name[KS_STORE_NAME_MAX + 1], uint32_t *version);

/* Unix seconds, YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS[Z] (UTC) (policy/cmd_audit.c). */
int ksctl_parse_time(const char *s, int64_t *ret);

#endif
