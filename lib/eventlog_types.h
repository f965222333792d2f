/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_EVENTLOG_TYPES_H
#define KS_EVENTLOG_TYPES_H

/*
 * TCG PC Client PFP event types (Table 9, "Event Types") and short readable
 * descriptions of event data for `ksctl eventlog show`. Pure functions over
 * untrusted bytes: every read is bounds-checked, nothing is printed.
 */

#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"

#define KS_EV_PREBOOT_CERT 0x00000000u
#define KS_EV_POST_CODE 0x00000001u
#define KS_EV_UNUSED 0x00000002u
#define KS_EV_NO_ACTION 0x00000003u
#define KS_EV_SEPARATOR 0x00000004u
#define KS_EV_ACTION 0x00000005u
#define KS_EV_EVENT_TAG 0x00000006u
#define KS_EV_S_CRTM_CONTENTS 0x00000007u
#define KS_EV_S_CRTM_VERSION 0x00000008u
#define KS_EV_CPU_MICROCODE 0x00000009u
#define KS_EV_PLATFORM_CONFIG_FLAGS 0x0000000Au
#define KS_EV_TABLE_OF_DEVICES 0x0000000Bu
#define KS_EV_COMPACT_HASH 0x0000000Cu
#define KS_EV_IPL 0x0000000Du
#define KS_EV_IPL_PARTITION_DATA 0x0000000Eu
#define KS_EV_NONHOST_CODE 0x0000000Fu
#define KS_EV_NONHOST_CONFIG 0x00000010u
#define KS_EV_NONHOST_INFO 0x00000011u
#define KS_EV_OMIT_BOOT_DEVICE_EVENTS 0x00000012u
#define KS_EV_POST_CODE2 0x00000013u
#define KS_EV_EFI_EVENT_BASE 0x80000000u
#define KS_EV_EFI_VARIABLE_DRIVER_CONFIG 0x80000001u
#define KS_EV_EFI_VARIABLE_BOOT 0x80000002u
#define KS_EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define KS_EV_EFI_BOOT_SERVICES_DRIVER 0x80000004u
#define KS_EV_EFI_RUNTIME_SERVICES_DRIVER 0x80000005u
#define KS_EV_EFI_GPT_EVENT 0x80000006u
#define KS_EV_EFI_ACTION 0x80000007u
#define KS_EV_EFI_PLATFORM_FIRMWARE_BLOB 0x80000008u
#define KS_EV_EFI_HANDOFF_TABLES 0x80000009u
#define KS_EV_EFI_PLATFORM_FIRMWARE_BLOB2 0x8000000Au
#define KS_EV_EFI_HANDOFF_TABLES2 0x8000000Bu
#define KS_EV_EFI_VARIABLE_BOOT2 0x8000000Cu
#define KS_EV_EFI_GPT_EVENT2 0x8000000Du
#define KS_EV_EFI_HCRTM_EVENT 0x80000010u
#define KS_EV_EFI_VARIABLE_AUTHORITY 0x800000E0u
#define KS_EV_EFI_SPDM_FIRMWARE_BLOB 0x800000E1u
#define KS_EV_EFI_SPDM_FIRMWARE_CONFIG 0x800000E2u
#define KS_EV_EFI_SPDM_DEVICE_POLICY 0x800000E3u
#define KS_EV_EFI_SPDM_DEVICE_AUTHORITY 0x800000E4u

/* "EV_SEPARATOR", ..., or NULL for a type not in the table. */
const char *ks_eventlog_type_name(uint32_t type);

/* Type id of a name from the table ("EV_SEPARATOR"); KS_ERR_NOT_FOUND. */
KS_WUR int ks_eventlog_type_from_name(const char *name, uint32_t *ret_type);

/*
 * A short, printable-ASCII description of an event's data, written to buf
 * (always NUL-terminated; cut to buflen - 1 bytes, ending in "..." when cut):
 * UEFI variables (UEFI_VARIABLE_DATA: GUID, name, data length, the value of a
 * 1-byte variable), strings of EV_EFI_ACTION / EV_ACTION / EV_S_CRTM_VERSION /
 * EV_IPL / EV_POST_CODE / EV_EVENT_TAG (UTF-16 or 8-bit, truncated),
 * EV_SEPARATOR values, EV_NO_ACTION Spec ID and StartupLocality events, image
 * load events (UEFI_IMAGE_LOAD_EVENT: location, length, file path), firmware
 * blobs, handoff tables and GPT events; otherwise the data length. Data that
 * does not match its type's structure is described as malformed, never read
 * past. KS_ERR_INVALID_ARG for a NULL or 0-length buf or NULL data with a
 * non-zero length.
 */
KS_WUR int ks_eventlog_describe(uint32_t type, const uint8_t *data, size_t len, char *buf,
                                size_t buflen);

#endif
