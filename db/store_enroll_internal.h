/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_STORE_ENROLL_INTERNAL_H
#define KS_STORE_ENROLL_INTERNAL_H

/* Shared by db/store_ek.c, db/store_ekca.c and db/store_enroll.c: their
 * cached statements, one slot each, in the block store_internal.h keeps for
 * them. */

#include "db/store_internal.h"

enum ks_enroll_stmt {
    /* store_ekca.c */
    STMT_EKCA_COUNT = STMT_ENROLL_FIRST,
    STMT_EKCA_INSERT,
    STMT_EKCA_LIST,
    STMT_EKCA_SET_AUTO,
    STMT_EKCA_UNAPPROVE,
    STMT_EKCA_DELETE,
    STMT_EKCA_EXISTS,
    STMT_CRL_NEWEST,
    STMT_CRL_DELETE_CA,
    STMT_CRL_INSERT,
    STMT_CRL_ALL,
    /* store_ek.c */
    STMT_EKX_GET,
    STMT_EKX_LIST,
    STMT_EKX_STATE,
    STMT_EKX_SET_APPROVAL,
    STMT_EKX_REVOKE,
    STMT_EKX_REVOKE_AKS,
    STMT_EKX_DELETE,
    STMT_ENR_DELETE_EK,
    /* store_enroll.c */
    STMT_ENR_CLEANUP,
    STMT_ENR_COUNT,
    STMT_ENR_COUNT_EK,
    STMT_ENR_EK_STATE,
    STMT_ENR_AK_EXISTS,
    STMT_ENR_INSERT,
    STMT_ENR_GET,
    STMT_ENR_USE,
    STMT_ENR_CA_AUTO,
    STMT_ENR_EK_INSERT,
    STMT_ENR_EK_APPROVE,
    STMT_ENR_AK_INSERT,
    STMT_ENROLL__END
};

_Static_assert((int)STMT_ENROLL__END <= (int)STMT_ENROLL_LAST + 1,
               "store_internal.h: grow the enrollment statement block");

/* ks_store_stmt for a slot of this block. */
static inline int ks_store_estmt(struct ks_store *s, enum ks_enroll_stmt id, const char *sql,
                                 sqlite3_stmt **ret)
{
    return ks_store_stmt(s, (enum ks_stmt)id, sql, ret);
}

/* State of an EK inside the caller's transaction: *ret_found false when
 * unknown; approved/revoked/decided (an approval decision was ever made). */
struct ks_store_ek_state {
    bool found, approved, revoked, decided, has_cert;
};
KS_WUR int ks_store_ek_state_tx(struct ks_store *s, const char *ek_name,
                                struct ks_store_ek_state *ret);

#endif
