/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "hpke.h"

/* placeholder: being written */
int ks_placeholder_hpke(void);
int ks_placeholder_hpke(void)
{
    return 0;
}
