/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "eventlog_types.h"

/* placeholder: being written */
int ks_placeholder_eventlog_types(void);
int ks_placeholder_eventlog_types(void)
{
    return 0;
}
