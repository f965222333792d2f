/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "policy/ksctl.h"

int ksctl_ima(int argc, char **argv)
{
    ksctl_err("ima: not implemented yet");
    return 2;
}
