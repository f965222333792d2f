/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_EVENTLOG_H
#define KS_EVENTLOG_H
/* placeholder: being written */
#endif
