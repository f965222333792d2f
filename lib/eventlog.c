/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "eventlog.h"

/* placeholder: being written */
int ks_placeholder_eventlog(void);
int ks_placeholder_eventlog(void)
{
    return 0;
}
