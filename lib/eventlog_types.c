/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "eventlog_types.h"
#include "tpm_alg.h"

struct type_name {
    uint32_t type;
    const char *name;
};

/* TCG PC Client PFP Table 9 (rev 1.06), SPDM types from PFP 10.4.10. */
static const struct type_name type_names[] = {
    {KS_EV_PREBOOT_CERT, "EV_PREBOOT_CERT"},
    {KS_EV_POST_CODE, "EV_POST_CODE"},
    {KS_EV_UNUSED, "EV_UNUSED"},
    {KS_EV_NO_ACTION, "EV_NO_ACTION"},
    {KS_EV_SEPARATOR, "EV_SEPARATOR"},
    {KS_EV_ACTION, "EV_ACTION"},
    {KS_EV_EVENT_TAG, "EV_EVENT_TAG"},
    {KS_EV_S_CRTM_CONTENTS, "EV_S_CRTM_CONTENTS"},
    {KS_EV_S_CRTM_VERSION, "EV_S_CRTM_VERSION"},
    {KS_EV_CPU_MICROCODE, "EV_CPU_MICROCODE"},
    {KS_EV_PLATFORM_CONFIG_FLAGS, "EV_PLATFORM_CONFIG_FLAGS"},
    {KS_EV_TABLE_OF_DEVICES, "EV_TABLE_OF_DEVICES"},
    {KS_EV_COMPACT_HASH, "EV_COMPACT_HASH"},
    {KS_EV_IPL, "EV_IPL"},
    {KS_EV_IPL_PARTITION_DATA, "EV_IPL_PARTITION_DATA"},
    {KS_EV_NONHOST_CODE, "EV_NONHOST_CODE"},
    {KS_EV_NONHOST_CONFIG, "EV_NONHOST_CONFIG"},
    {KS_EV_NONHOST_INFO, "EV_NONHOST_INFO"},
    {KS_EV_OMIT_BOOT_DEVICE_EVENTS, "EV_OMIT_BOOT_DEVICE_EVENTS"},
    {KS_EV_POST_CODE2, "EV_POST_CODE2"},
    {KS_EV_EFI_EVENT_BASE, "EV_EFI_EVENT_BASE"},
    {KS_EV_EFI_VARIABLE_DRIVER_CONFIG, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
    {KS_EV_EFI_VARIABLE_BOOT, "EV_EFI_VARIABLE_BOOT"},
    {KS_EV_EFI_BOOT_SERVICES_APPLICATION, "EV_EFI_BOOT_SERVICES_APPLICATION"},
    {KS_EV_EFI_BOOT_SERVICES_DRIVER, "EV_EFI_BOOT_SERVICES_DRIVER"},
    {KS_EV_EFI_RUNTIME_SERVICES_DRIVER, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
    {KS_EV_EFI_GPT_EVENT, "EV_EFI_GPT_EVENT"},
    {KS_EV_EFI_ACTION, "EV_EFI_ACTION"},
    {KS_EV_EFI_PLATFORM_FIRMWARE_BLOB, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
    {KS_EV_EFI_HANDOFF_TABLES, "EV_EFI_HANDOFF_TABLES"},
    {KS_EV_EFI_PLATFORM_FIRMWARE_BLOB2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
    {KS_EV_EFI_HANDOFF_TABLES2, "EV_EFI_HANDOFF_TABLES2"},
    {KS_EV_EFI_VARIABLE_BOOT2, "EV_EFI_VARIABLE_BOOT2"},
    {KS_EV_EFI_GPT_EVENT2, "EV_EFI_GPT_EVENT2"},
    {KS_EV_EFI_HCRTM_EVENT, "EV_EFI_HCRTM_EVENT"},
    {KS_EV_EFI_VARIABLE_AUTHORITY, "EV_EFI_VARIABLE_AUTHORITY"},
    {KS_EV_EFI_SPDM_FIRMWARE_BLOB, "EV_EFI_SPDM_FIRMWARE_BLOB"},
    {KS_EV_EFI_SPDM_FIRMWARE_CONFIG, "EV_EFI_SPDM_FIRMWARE_CONFIG"},
    {KS_EV_EFI_SPDM_DEVICE_POLICY, "EV_EFI_SPDM_DEVICE_POLICY"},
    {KS_EV_EFI_SPDM_DEVICE_AUTHORITY, "EV_EFI_SPDM_DEVICE_AUTHORITY"},
};

#define N_TYPES (sizeof(type_names) / sizeof(type_names[0]))

const char *ks_eventlog_type_name(uint32_t type)
{
    for (size_t i = 0; i < N_TYPES; i++) {
        if (type_names[i].type == type) {
            return type_names[i].name;
        }
    }
    return NULL;
}

int ks_eventlog_type_from_name(const char *name, uint32_t *ret_type)
{
    if (!name || !ret_type) {
        return KS_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < N_TYPES; i++) {
        if (strcmp(type_names[i].name, name) == 0) {
            *ret_type = type_names[i].type;
            return KS_OK;
        }
    }
    return KS_ERR_NOT_FOUND;
}

/* ---- output buffer ----------------------------------------------------- */

struct out {
    char *buf;
    size_t cap; /* >= 1 */
    size_t len;
    bool cut;
};

static void out_putc(struct out *o, char c)
{
    if (o->len + 1 < o->cap) {
        o->buf[o->len++] = c;
        o->buf[o->len] = '\0';
    } else {
        o->cut = true;
    }
}

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    for (size_t i = 0; tmp[i]; i++) {
        out_putc(o, tmp[i]);
    }
}

/* ---- bounded little-endian reads --------------------------------------- */

static bool has(size_t off, size_t len, size_t need)
{
    return off <= len && len - off >= need;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32);
}

/* ---- strings ------------------------------------------------------------ */

/* Characters shown of a string before it is cut. */
#define MAX_STRING 96

static bool printable(unsigned c)
{
    return c >= 0x20 && c < 0x7f;
}

/* UTF-16LE when the length is even and every high byte is 0 (the ASCII
 * subset firmware writes: EV_S_CRTM_VERSION, systemd-boot's EV_IPL). */
static bool looks_utf16(const uint8_t *d, size_t len)
{
    if (len < 2 || len % 2 != 0) {
        return false;
    }
    for (size_t i = 0; i < len; i += 2) {
        if (d[i + 1] != 0) {
            return false;
        }
    }
    return d[0] != 0;
}

/* True when the data is text: printable characters (tab and newline
 * allowed), then nothing but NUL terminators. */
static bool looks_text(const uint8_t *d, size_t len)
{
    size_t step = looks_utf16(d, len) ? 2 : 1;
    size_t i = 0;
    for (; i < len; i += step) {
        if (d[i] == 0) {
            break;
        }
        if (!printable(d[i]) && d[i] != '\t' && d[i] != '\n') {
            return false;
        }
    }
    for (; i < len; i++) {
        if (d[i] != 0) {
            return false;
        }
    }
    return len > 0 && d[0] != 0;
}

/* A quoted string: UTF-16LE or 8-bit, up to the first NUL; other
 * non-printable bytes as \xHH; cut at MAX_STRING characters. Bytes after the
 * NUL (other than more NULs) are counted, not shown. */
static void put_string(struct out *o, const uint8_t *d, size_t len)
{
    size_t step = looks_utf16(d, len) ? 2 : 1;
    size_t i = 0;
    size_t shown = 0;
    out_putc(o, '"');
    for (; i + step <= len; i += step) {
        unsigned c = step == 2 ? le16(d + i) : d[i];
        if (c == 0) {
            break;
        }
        if (shown == MAX_STRING) {
            out_printf(o, "...");
            break;
        }
        if (printable(c) && c != '"' && c != '\\') {
            out_putc(o, (char)c);
        } else if (c < 0x100) {
            out_printf(o, "\\x%02x", c);
        } else {
            out_putc(o, '?');
        }
        shown++;
    }
    out_putc(o, '"');
    size_t rest = 0;
    if (i < len && shown < MAX_STRING) {
        for (size_t k = i; k < len; k++) {
            rest += d[k] != 0;
        }
    }
    if (rest) {
        out_printf(o, " (+%zu bytes)", len - i);
    }
}

static void put_size(struct out *o, size_t n)
{
    out_printf(o, "%zu byte%s", n, n == 1 ? "" : "s");
}

static void describe_string(struct out *o, const uint8_t *d, size_t len)
{
    if (len == 0) {
        put_size(o, 0);
    } else {
        put_string(o, d, len);
    }
}

/* A UTF-16LE name of n characters as ASCII ('?' for anything else). */
static void put_utf16(struct out *o, const uint8_t *d, size_t nchars)
{
    for (size_t i = 0; i < nchars && i < MAX_STRING; i++) {
        unsigned c = le16(d + 2 * i);
        if (c == 0) {
            break;
        }
        out_putc(o, printable(c) ? (char)c : '?');
    }
}

/* EFI_GUID (UEFI 2.x appendix A): Data1..3 little-endian, Data4 as bytes. */
static void put_guid(struct out *o, const uint8_t *g)
{
    out_printf(o, "%08" PRIx32 "-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", le32(g), le16(g + 4),
               le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

/* ---- per-type decoders ------------------------------------------------- */

/* PFP 10.4.5.1 TCG_EfiSpecIDEvent. */
static void describe_specid(struct out *o, const uint8_t *d, size_t len)
{
    if (len < 28) {
        out_printf(o, "Spec ID Event03, malformed (%zu bytes)", len);
        return;
    }
    uint32_t n = le32(d + 24);
    out_printf(o,
               "Spec ID Event03: platformClass %" PRIu32 ", spec %u.%u errata %u, uintnSize %u, ",
               le32(d + 16), d[21], d[20], d[22], d[23]);
    out_printf(o, "%" PRIu32 " algorithm%s", n, n == 1 ? "" : "s");
    size_t off = 28;
    for (uint32_t i = 0; i < n && i < 16; i++) {
        if (!has(off, len, 4)) {
            out_printf(o, ", malformed");
            return;
        }
        uint16_t alg = le16(d + off);
        const char *name = ks_alg_name(alg);
        if (name) {
            out_printf(o, " %s/%u", name, le16(d + off + 2));
        } else {
            out_printf(o, " 0x%04x/%u", alg, le16(d + off + 2));
        }
        off += 4;
    }
    if (n > 16) {
        out_printf(o, " ...");
        return;
    }
    if (!has(off, len, 1)) {
        out_printf(o, ", malformed");
        return;
    }
    out_printf(o, ", vendorInfo %u bytes", d[off]);
    if (len - off - 1 != d[off]) {
        out_printf(o, " (size mismatch)");
    }
}

static void describe_no_action(struct out *o, const uint8_t *d, size_t len)
{
    /* PFP 10.4.5.3 TCG_EfiStartupLocalityEvent. */
    if (len == 17 && memcmp(d, "StartupLocality", 16) == 0) {
        out_printf(o, "StartupLocality %u", d[16]);
        return;
    }
    if (len >= 16 && memcmp(d, "Spec ID Event03", 16) == 0) {
        describe_specid(o, d, len);
        return;
    }
    /* Other signatures (Spec ID Event00/02, SP800-155 Event, ...): the
     * leading text, then the size. */
    size_t sig = 0;
    while (sig < len && sig < 24 && printable(d[sig])) {
        sig++;
    }
    if (sig >= 8) {
        put_string(o, d, sig);
        out_printf(o, ", ");
    }
    put_size(o, len);
}

/* PFP 10.4.4 UEFI_VARIABLE_DATA: VariableName GUID, UnicodeNameLength and
 * VariableDataLength (UINT64), the name in UTF-16, then the data. */
static void describe_variable(struct out *o, const uint8_t *d, size_t len)
{
    if (len < 32) {
        out_printf(o, "malformed UEFI_VARIABLE_DATA (%zu bytes)", len);
        return;
    }
    uint64_t nchars = le64(d + 16);
    uint64_t dlen = le64(d + 24);
    size_t avail = len - 32;
    if (nchars > avail / 2 || dlen > avail - 2 * nchars) {
        out_printf(o, "malformed UEFI_VARIABLE_DATA (%zu bytes)", len);
        return;
    }
    put_utf16(o, d + 32, (size_t)nchars);
    out_putc(o, '-');
    put_guid(o, d);
    out_printf(o, ", ");
    put_size(o, (size_t)dlen);
    const uint8_t *val = d + 32 + 2 * nchars;
    if (dlen == 1) {
        out_printf(o, " = %u", val[0]);
    }
    if (32 + 2 * nchars + dlen != len) {
        out_printf(o, " (+%zu bytes)", (size_t)(avail - 2 * nchars - dlen));
    }
}

/* Device path nodes (UEFI 2.x 10.3): type, subtype, length (u16, >= 4).
 * Shows the media file path nodes (type 4, subtype 4). */
static void put_device_path(struct out *o, const uint8_t *d, size_t len)
{
    size_t off = 0;
    bool any = false;
    for (int nodes = 0; nodes < 64 && has(off, len, 4); nodes++) {
        uint8_t type = d[off];
        uint8_t sub = d[off + 1];
        uint16_t nlen = le16(d + off + 2);
        if (nlen < 4 || !has(off, len, nlen) || type == 0x7f) {
            break;
        }
        if (type == 0x04 && sub == 0x04) {
            out_putc(o, any ? '/' : ' ');
            put_utf16(o, d + off + 4, (nlen - 4u) / 2);
            any = true;
        }
        off += nlen;
    }
}

/* PFP 10.2.3 UEFI_IMAGE_LOAD_EVENT: ImageLocationInMemory,
 * ImageLengthInMemory, ImageLinkTimeAddress, LengthOfDevicePath (UINT64). */
static void describe_image(struct out *o, const uint8_t *d, size_t len)
{
    if (len < 32) {
        out_printf(o, "malformed UEFI_IMAGE_LOAD_EVENT (%zu bytes)", len);
        return;
    }
    uint64_t dp = le64(d + 24);
    out_printf(o, "image at 0x%" PRIx64 ", %" PRIu64 " bytes", le64(d), le64(d + 8));
    if (dp > len - 32) {
        out_printf(o, ", device path malformed");
        return;
    }
    put_device_path(o, d + 32, (size_t)dp);
}

/* PFP 10.2.4 UEFI_PLATFORM_FIRMWARE_BLOB (base, length); BLOB2 prefixes a
 * description (u8 size + bytes). */
static void describe_blob(struct out *o, const uint8_t *d, size_t len, bool blob2)
{
    size_t off = 0;
    if (blob2) {
        if (len < 1 || !has(1, len, d[0])) {
            out_printf(o, "malformed firmware blob (%zu bytes)", len);
            return;
        }
        put_string(o, d + 1, d[0]);
        out_printf(o, " ");
        off = 1 + (size_t)d[0];
    }
    if (!has(off, len, 16)) {
        out_printf(o, "malformed firmware blob (%zu bytes)", len);
        return;
    }
    out_printf(o, "blob at 0x%" PRIx64 ", %" PRIu64 " bytes", le64(d + off), le64(d + off + 8));
}

/* PFP 10.2.5 UEFI_HANDOFF_TABLE_POINTERS (NumberOfTables u64, then entries);
 * TABLES2 prefixes a description. */
static void describe_tables(struct out *o, const uint8_t *d, size_t len, bool tables2)
{
    size_t off = 0;
    if (tables2) {
        if (len < 1 || !has(1, len, d[0])) {
            out_printf(o, "malformed handoff tables (%zu bytes)", len);
            return;
        }
        put_string(o, d + 1, d[0]);
        out_printf(o, " ");
        off = 1 + (size_t)d[0];
    }
    if (!has(off, len, 8)) {
        out_printf(o, "malformed handoff tables (%zu bytes)", len);
        return;
    }
    uint64_t n = le64(d + off);
    out_printf(o, "%" PRIu64 " table%s", n, n == 1 ? "" : "s");
    if (n >= 1 && has(off + 8, len, 16)) {
        out_printf(o, ", first ");
        put_guid(o, d + off + 8);
    }
}

/* PFP 10.4.2 UEFI_GPT_DATA: the 92-byte EFI_PARTITION_TABLE_HEADER (disk
 * GUID at 56), then NumberOfPartitions (u64). */
static void describe_gpt(struct out *o, const uint8_t *d, size_t len)
{
    if (len < 100) {
        out_printf(o, "malformed UEFI_GPT_DATA (%zu bytes)", len);
        return;
    }
    out_printf(o, "disk ");
    put_guid(o, d + 56);
    out_printf(o, ", %" PRIu64 " partitions", le64(d + 92));
}

/* PFP 10.4.2 TCG_PCClientTaggedEvent (taggedEventID, taggedEventDataSize,
 * data); anything else (e.g. a text tag followed by a digest, as ks-launch
 * writes) as its printable prefix. */
static void describe_tagged(struct out *o, const uint8_t *d, size_t len)
{
    if (len >= 8 && le32(d + 4) == len - 8) {
        out_printf(o, "tag 0x%08" PRIx32 ", ", le32(d));
        put_size(o, len - 8);
        return;
    }
    size_t p = 0;
    while (p < len && printable(d[p])) {
        p++;
    }
    if (p == 0) {
        put_size(o, len);
        return;
    }
    put_string(o, d, p);
    if (p < len) {
        out_printf(o, " (+%zu bytes)", len - p);
    }
}

static void describe_separator(struct out *o, const uint8_t *d, size_t len)
{
    if (len != 4) {
        out_printf(o, "separator, ");
        put_size(o, len);
        return;
    }
    uint32_t v = le32(d);
    /* PFP 10.4.1: 0 normally, 0xFFFFFFFF when firmware hit an error. */
    out_printf(o, "0x%08" PRIx32 "%s", v, v == 0xffffffffu ? " (error)" : "");
}

int ks_eventlog_describe(uint32_t type, const uint8_t *data, size_t len, char *buf, size_t buflen)
{
    if (!buf || buflen == 0 || (!data && len)) {
        return KS_ERR_INVALID_ARG;
    }
    static const uint8_t empty[1] = {0};
    if (!data) {
        data = empty;
    }
    struct out o = {buf, buflen, 0, false};
    buf[0] = '\0';
    switch (type) {
    case KS_EV_NO_ACTION:
        describe_no_action(&o, data, len);
        break;
    case KS_EV_SEPARATOR:
        describe_separator(&o, data, len);
        break;
    case KS_EV_EFI_VARIABLE_DRIVER_CONFIG:
    case KS_EV_EFI_VARIABLE_BOOT:
    case KS_EV_EFI_VARIABLE_BOOT2:
    case KS_EV_EFI_VARIABLE_AUTHORITY:
        describe_variable(&o, data, len);
        break;
    case KS_EV_EFI_BOOT_SERVICES_APPLICATION:
    case KS_EV_EFI_BOOT_SERVICES_DRIVER:
    case KS_EV_EFI_RUNTIME_SERVICES_DRIVER:
        describe_image(&o, data, len);
        break;
    case KS_EV_EFI_PLATFORM_FIRMWARE_BLOB:
    case KS_EV_EFI_PLATFORM_FIRMWARE_BLOB2:
        describe_blob(&o, data, len, type == KS_EV_EFI_PLATFORM_FIRMWARE_BLOB2);
        break;
    case KS_EV_EFI_HANDOFF_TABLES:
    case KS_EV_EFI_HANDOFF_TABLES2:
        describe_tables(&o, data, len, type == KS_EV_EFI_HANDOFF_TABLES2);
        break;
    case KS_EV_EFI_GPT_EVENT:
    case KS_EV_EFI_GPT_EVENT2:
        describe_gpt(&o, data, len);
        break;
    case KS_EV_EVENT_TAG:
        describe_tagged(&o, data, len);
        break;
    case KS_EV_S_CRTM_VERSION:
        /* PFP 10.4.3: a UTF-16 version string, or a GUID. */
        if (len == 16 && !looks_text(data, len)) {
            out_printf(&o, "GUID ");
            put_guid(&o, data);
        } else {
            describe_string(&o, data, len);
        }
        break;
    case KS_EV_EFI_ACTION:
    case KS_EV_ACTION:
    case KS_EV_IPL:
        describe_string(&o, data, len);
        break;
    case KS_EV_POST_CODE:
    case KS_EV_S_CRTM_CONTENTS:
        /* PFP 10.4.3: a UEFI_PLATFORM_FIRMWARE_BLOB, or a string such as
         * "ACPI DATA" / "Embedded UEFI Driver". */
        if (looks_text(data, len)) {
            put_string(&o, data, len);
        } else if (len == 16) {
            describe_blob(&o, data, len, false);
        } else {
            put_size(&o, len);
        }
        break;
    default:
        if (looks_text(data, len)) {
            put_string(&o, data, len);
        } else {
            put_size(&o, len);
        }
        break;
    }
    if (o.cut && buflen >= 4) {
        memcpy(buf + buflen - 4, "...", 4);
    }
    return KS_OK;
}
