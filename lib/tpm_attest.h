/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_TPM_ATTEST_H
#define KS_TPM_ATTEST_H
/* placeholder: being written */
#endif
