/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_QUOTE_H
#define KS_QUOTE_H
/* placeholder: being written */
#endif
