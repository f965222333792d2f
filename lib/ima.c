/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ima.h"

/* placeholder: being written */
int ks_placeholder_ima(void);
int ks_placeholder_ima(void)
{
    return 0;
}
