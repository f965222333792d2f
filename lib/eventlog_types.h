/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_EVENTLOG_TYPES_H
#define KS_EVENTLOG_TYPES_H
/* placeholder: being written */
#endif
