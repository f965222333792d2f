/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "policy/ksctl.h"

int ksctl_eventlog(int argc, char **argv)
{
    ksctl_err("eventlog: not implemented yet");
    return 2;
}
