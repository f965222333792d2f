/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KSCTL_CMD_POLICY_H
#define KSCTL_CMD_POLICY_H

/* The `ksctl policy` subcommands outside policy/cmd_policy.c. Each takes
 * argv starting at the subcommand name and returns the exit status. */

#include <stdbool.h>

#include "db/store.h"

/* learn (policy/cmd_policy_learn.c) */
int ksctl_policy_learn(int argc, char **argv);

/* diff, history, rollback, export, import, rule (policy/cmd_policy_io.c) */
int ksctl_policy_io(int argc, char **argv);
bool ksctl_policy_io_has(const char *sub);

/* Print the warning about PCRs 16 and 23 (resettable at locality 0) when a
 * rule names one; returns true when it warned. */
bool ksctl_policy_warn_resettable(const struct ks_store_rule *rule);

#endif
