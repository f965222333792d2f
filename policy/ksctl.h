/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KSCTL_H
#define KSCTL_H

/*
 * ksctl command groups. Each takes argv starting at the group name
 * (argv[0] == "eventlog", ...) and returns the process exit code:
 * 0 success, 1 verification refused / check failed, 2 usage or input error,
 * 3 internal error (see ks_error_exit_code()).
 */
int ksctl_eventlog(int argc, char **argv);
int ksctl_quote(int argc, char **argv);
int ksctl_ima(int argc, char **argv);
/* Admin commands on the store (policy/cmd_*.c, shared code in ksctl_db.c). */
int ksctl_init(int argc, char **argv);
int ksctl_key(int argc, char **argv);
int ksctl_policy(int argc, char **argv);
int ksctl_ak(int argc, char **argv);
int ksctl_audit(int argc, char **argv);
/* Enrollment: EK CAs and EKs (policy/cmd_ekca.c, policy/cmd_ek.c). */
int ksctl_ekca(int argc, char **argv);
int ksctl_ek(int argc, char **argv);
/* Operations (policy/cmd_status.c, cmd_backup.c, cmd_master.c). */
int ksctl_status(int argc, char **argv);
int ksctl_backup(int argc, char **argv);
int ksctl_restore(int argc, char **argv);
int ksctl_master(int argc, char **argv);

/* Print "ksctl: <message>\n" to stderr. */
void ksctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
