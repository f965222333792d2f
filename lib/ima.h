/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_IMA_H
#define KS_IMA_H
/* placeholder: being written */
#endif
