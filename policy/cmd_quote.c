/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "policy/ksctl.h"

int ksctl_quote(int argc, char **argv)
{
    ksctl_err("quote: not implemented yet");
    return 2;
}
