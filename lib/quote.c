/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "quote.h"

/* placeholder: being written */
int ks_placeholder_quote(void);
int ks_placeholder_quote(void)
{
    return 0;
}
