/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_LOADER_KS_ATTEST_ENROLL_H
#define KS_LOADER_KS_ATTEST_ENROLL_H

/* `ks-attest enroll` (ks_attest_enroll.c); argv[0] is "enroll". Returns the
 * exit status. */
int ks_attest_cmd_enroll(int argc, char **argv);

#endif
