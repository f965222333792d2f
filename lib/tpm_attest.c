/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "tpm_attest.h"

/* placeholder: being written */
int ks_placeholder_tpm_attest(void);
int ks_placeholder_tpm_attest(void)
{
    return 0;
}
