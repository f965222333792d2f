/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "tpm_public.h"

/* placeholder: being written */
int ks_placeholder_tpm_public(void);
int ks_placeholder_tpm_public(void)
{
    return 0;
}
