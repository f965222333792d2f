/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_HPKE_H
#define KS_HPKE_H
/* placeholder: being written */
#endif
