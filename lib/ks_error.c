/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ks_error.h"

const char *ks_strerror(int err)
{
    switch ((enum ks_err)err) {
    case KS_OK:
        return "success";
    case KS_ERR_NOMEM:
        return "out of memory";
    case KS_ERR_INVALID_ARG:
        return "invalid argument";
    case KS_ERR_IO:
        return "input/output error";
    case KS_ERR_CRYPTO:
        return "cryptographic library failure";
    case KS_ERR_TOO_LARGE:
        return "input too large";
    case KS_ERR_UNSUPPORTED:
        return "unsupported feature";
    case KS_ERR_NOT_FOUND:
        return "not found";
    case KS_ERR_INTERNAL:
        return "internal error";

    case KS_ERR_HEX:
        return "malformed hexadecimal";
    case KS_ERR_BASE64:
        return "malformed base64";

    case KS_ERR_TPM_UNMARSHAL:
        return "malformed TPM structure";
    case KS_ERR_TPM_TRAILING:
        return "trailing bytes after TPM structure";
    case KS_ERR_TPM_ALG:
        return "unsupported TPM algorithm";
    case KS_ERR_TPM_KEY:
        return "unsupported or invalid TPM key parameters";
    case KS_ERR_TPM_ATTRIBUTES:
        return "TPM object attributes not acceptable";
    case KS_ERR_TPM_NAME:
        return "TPM object name mismatch";
    case KS_ERR_TPM_KEY_MISMATCH:
        return "public key does not match the TPM object";

    case KS_ERR_QUOTE_SIG_SCHEME:
        return "quote signature scheme does not match the key";
    case KS_ERR_QUOTE_SIG_INVALID:
        return "quote signature does not verify";
    case KS_ERR_QUOTE_MAGIC:
        return "attestation magic is not TPM_GENERATED_VALUE";
    case KS_ERR_QUOTE_TYPE:
        return "attestation type is not TPM_ST_ATTEST_QUOTE";
    case KS_ERR_QUOTE_EXTRADATA:
        return "quote extraData (nonce binding) mismatch";
    case KS_ERR_QUOTE_PCR_SELECTION:
        return "quote PCR selection invalid";
    case KS_ERR_QUOTE_PCR_MISSING:
        return "PCR values do not match the quote's selection";
    case KS_ERR_QUOTE_PCR_DIGEST:
        return "PCR values do not match the quoted pcrDigest";
    case KS_ERR_QUOTE_KEY_MISMATCH:
        return "quote was not made by this attestation key";
    case KS_ERR_QUOTE_SIG_MALFORMED:
        return "quote signature structure malformed";
    case KS_ERR_QUOTE_PCR_FILE:
        return "malformed tpm2-tools PCR file";

    case KS_ERR_PCR_INDEX:
        return "PCR index out of range";
    case KS_ERR_PCR_BANK:
        return "PCR bank not present";

    case KS_ERR_EVLOG_EMPTY:
        return "event log is empty";
    case KS_ERR_EVLOG_TRUNCATED:
        return "event log truncated";
    case KS_ERR_EVLOG_HEADER:
        return "event log header invalid";
    case KS_ERR_EVLOG_SPECID:
        return "event log Spec ID event invalid";
    case KS_ERR_EVLOG_DIGEST_ALG:
        return "event log digest algorithm unknown or inconsistent";
    case KS_ERR_EVLOG_PCR_INDEX:
        return "event log PCR index out of range";
    case KS_ERR_EVLOG_EVENT_SIZE:
        return "event log event size out of range";
    case KS_ERR_EVLOG_TOO_MANY:
        return "event log has too many events";
    case KS_ERR_EVLOG_MALFORMED:
        return "event log malformed";

    case KS_ERR_IMA_EMPTY:
        return "IMA log is empty";
    case KS_ERR_IMA_MALFORMED:
        return "IMA log malformed";
    case KS_ERR_IMA_TEMPLATE:
        return "IMA template unsupported or malformed";
    case KS_ERR_IMA_DIGEST_ALG:
        return "IMA file digest algorithm unknown";
    case KS_ERR_IMA_TOO_MANY:
        return "IMA log has too many entries";
    case KS_ERR_IMA_NO_MATCH:
        return "no prefix of the IMA log replays to the quoted PCR 10";
    case KS_ERR_IMA_TRUNCATED:
        return "IMA log truncated";
    case KS_ERR_IMA_PCR_INDEX:
        return "IMA log PCR index out of range";
    case KS_ERR_IMA_FIELD_SIZE:
        return "IMA log line or field exceeds its size limit";

    case KS_ERR_RECEIPT_SIGNATURE:
        return "receipt signature does not verify";

    case KS_ERR_HPKE_KEY:
        return "HPKE key invalid";
    case KS_ERR_HPKE_OPEN:
        return "HPKE decryption failed";
    case KS_ERR_HPKE_SEQ:
        return "HPKE sequence number overflow";
    case KS_ERR_HPKE_EXPORT:
        return "HPKE export length invalid";

    case KS_ERR_DB:
        return "database error";
    case KS_ERR_DB_BUSY:
        return "database is locked by another connection (busy timeout expired)";
    case KS_ERR_DB_SCHEMA_NEWER:
        return "database schema is newer than this program supports";
    case KS_ERR_DB_CONSTRAINT:
        return "database constraint violated";
    case KS_ERR_DB_CORRUPT:
        return "not a keyserver database, or database corrupt";
    case KS_ERR_DB_OPEN:
        return "cannot open database";
    case KS_ERR_DB_NOT_INIT:
        return "keyserver database not initialized (run ksctl init)";
    case KS_ERR_MASTER_KEY_PERMS:
        return "master key file must be a regular file of mode 0600 owned by this user";
    case KS_ERR_MASTER_KEY_SIZE:
        return "master key file must hold exactly 32 bytes";
    case KS_ERR_KEY_UNWRAP:
        return "stored secret does not decrypt under the master key";
    case KS_ERR_AUDIT_CHAIN:
        return "audit hash chain broken";
    case KS_ERR_STORE_EXISTS:
        return "object already exists";
    case KS_ERR_STORE_UNKNOWN_KEY:
        return "unknown key or key version";
    case KS_ERR_STORE_UNKNOWN_AK:
        return "unknown attestation key";
    case KS_ERR_STORE_UNKNOWN_POLICY:
        return "unknown policy or policy version";
    case KS_ERR_STORE_UNKNOWN_EK:
        return "unknown endorsement key";
    case KS_ERR_STORE_STATE:
        return "operation not allowed in the object's current state";
    case KS_ERR_AK_CLOCK_ROLLBACK:
        return "TPM clock or reset/restart counters went backwards for this AK";

    case KS_ERR_BAD_REQUEST:
        return "malformed request";
    case KS_ERR_MEDIA_TYPE:
        return "unsupported media type (expected application/json)";
    case KS_ERR_METHOD:
        return "method not allowed for this resource";
    case KS_ERR_NONCE_INVALID:
        return "nonce invalid (not issued by this keyserver)";
    case KS_ERR_NONCE_EXPIRED:
        return "nonce expired";
    case KS_ERR_NONCE_USED:
        return "nonce already used";
    case KS_ERR_ATTESTATION:
        return "attestation failed";
    case KS_ERR_POLICY_DENIED:
        return "denied by policy";
    case KS_ERR_RATE_LIMITED:
        return "rate limit exceeded";
    case KS_ERR_NONCE_CACHE_FULL:
        return "nonce replay cache full";
    case KS_ERR_CONFIG:
        return "invalid configuration";
    case KS_ERR_TLS:
        return "TLS certificate or key cannot be loaded";

    case KS_ERR_TPM_TCTI:
        return "cannot open the TPM (TCTI)";
    case KS_ERR_TPM_CMD:
        return "TPM command failed";
    case KS_ERR_TPM_PCR_BANK:
        return "TPM does not provide the selected PCR bank or index";
    case KS_ERR_TPM_PCR_RACE:
        return "PCR values kept changing while quoting";
    case KS_ERR_HTTP_TRANSPORT:
        return "cannot reach the keyserver (connection or transfer failed)";
    case KS_ERR_HTTP_TLS_VERIFY:
        return "keyserver TLS certificate or pinned public key not accepted";
    case KS_ERR_HTTP_STATUS:
        return "keyserver answered with an unexpected HTTP status or body";
    case KS_ERR_SERVER_ERROR:
        return "keyserver returned an error";
    case KS_ERR_RESP_JSON:
        return "keyserver response is not valid JSON";
    case KS_ERR_RESP_DUPLICATE:
        return "keyserver response has a duplicate JSON member";
    case KS_ERR_RESP_MISSING:
        return "keyserver response lacks a required member";
    case KS_ERR_RESP_TYPE:
        return "keyserver response member has the wrong JSON type";
    case KS_ERR_RESP_UNKNOWN:
        return "keyserver response has an unknown member";
    case KS_ERR_RESP_VALUE:
        return "keyserver response member out of range";
    case KS_ERR_RESP_KEY_EXTRA:
        return "keyserver released a key that was not requested, or one twice";
    case KS_ERR_RESP_KEY_MISSING:
        return "keyserver did not release every requested key";
    case KS_ERR_RESP_ENC_LEN:
        return "released key's HPKE enc is not 32 bytes";

    case KS_ERR_CRED_MALFORMED:
        return "malformed credential blob or encrypted secret";
    case KS_ERR_CRED_INTEGRITY:
        return "credential integrity check failed (wrong key, name or blob)";
    case KS_ERR_ROCA_WEAK:
        return "RSA key has the ROCA fingerprint (CVE-2017-15361)";
    case KS_ERR_EKCERT_PARSE:
        return "malformed EK certificate";
    case KS_ERR_EKCERT_UNTRUSTED:
        return "EK certificate does not chain to a trusted EK CA";
    case KS_ERR_EKCERT_EXPIRED:
        return "EK certificate (or a CA of its chain) has expired";
    case KS_ERR_EKCERT_NOT_YET_VALID:
        return "EK certificate (or a CA of its chain) is not yet valid";
    case KS_ERR_EKCERT_REVOKED:
        return "EK certificate is revoked";
    case KS_ERR_EKCERT_KEY_MISMATCH:
        return "EK certificate's key differs from the EK presented";
    case KS_ERR_EK_NOT_APPROVED:
        return "EK is not approved";
    case KS_ERR_EK_REVOKED:
        return "EK is revoked";
    case KS_ERR_ENROLL_REFUSED:
        return "enrollment refused";
    case KS_ERR_ENROLL_UNKNOWN:
        return "unknown enrollment id";
    case KS_ERR_ENROLL_USED:
        return "enrollment id already used";
    case KS_ERR_ENROLL_EXPIRED:
        return "enrollment expired";
    case KS_ERR_ENROLL_SECRET:
        return "wrong activation secret";
    case KS_ERR_ENROLL_TOO_MANY:
        return "too many pending enrollments";

    case KS_ERR_SEAL_MAGIC:
        return "not a sealed file (bad magic)";
    case KS_ERR_SEAL_VERSION:
        return "unsupported sealed-file format version";
    case KS_ERR_SEAL_CHUNK_SIZE:
        return "sealed-file chunk size out of range";
    case KS_ERR_SEAL_LENGTH:
        return "sealed-file plaintext length too large";
    case KS_ERR_SEAL_KEY_NAME:
        return "sealed-file key name malformed";
    case KS_ERR_SEAL_KEY_VERSION:
        return "sealed-file key version is not the expected one";
    case KS_ERR_SEAL_HEADER_TRUNCATED:
        return "sealed-file header truncated";
    case KS_ERR_SEAL_TRUNCATED:
        return "sealed file truncated";
    case KS_ERR_SEAL_TRAILING:
        return "bytes after the last chunk of the sealed file";
    case KS_ERR_SEAL_AUTH:
        return "sealed chunk fails authentication (wrong key, tampered, reordered)";
    case KS_ERR_SEAL_DIGEST:
        return "unsealed plaintext does not match the SHA-256 in its header";
    case KS_ERR_SEAL_KEY_MISMATCH:
        return "sealed file is for another key name";
    case KS_ERR_SEAL_INPUT_CHANGED:
        return "input changed while it was being sealed";
    case KS_ERR_SEAL_NOT_REGULAR:
        return "sealed-file input is not a regular file";

    case KS_ERR_MODEL_MAGIC:
        return "not a model weights file (bad magic)";
    case KS_ERR_MODEL_VERSION:
        return "unsupported model weights file version";
    case KS_ERR_MODEL_DIMS:
        return "model dimensions invalid or out of range";
    case KS_ERR_MODEL_SIZE:
        return "model weights length does not match its dimensions";
    case KS_ERR_MODEL_MISMATCH:
        return "model weights dimensions differ from the program's";
    case KS_ERR_MODEL_PROMPT:
        return "prompt empty or generation longer than the model context";
    case KS_ERR_BACKEND_UNKNOWN:
        return "unknown inference backend";
    case KS_ERR_BACKEND_UNAVAILABLE:
        return "inference backend not available in this build or on this machine";
    case KS_ERR_BACKEND_MLOCK:
        return "cannot lock the weights in memory (RLIMIT_MEMLOCK?)";
    case KS_ERR_BACKEND_STATE:
        return "inference backend call out of order";
    case KS_ERR_BACKEND_DEVICE:
        return "inference device error";
    case KS_ERR_PROGRAM_JSON:
        return "malformed program manifest JSON";
    case KS_ERR_PROGRAM_FIELD:
        return "program manifest field missing, unknown or out of range";
    case KS_ERR_PROGRAM_SIGNATURE:
        return "program manifest signature does not verify";
    case KS_ERR_PROGRAM_KEY:
        return "CI signing key unusable (not Ed25519)";

    case KS_ERR_APPLOG_STATE:
        return "application PCR does not match the application log";
    case KS_ERR_APPLOG_FOREIGN:
        return "application log holds events other than the launcher's";
    case KS_ERR_LOADER_CONFIG:
        return "invalid loader configuration";
    case KS_ERR_SECMEM:
        return "secure memory unavailable (cannot lock it or exclude it from core dumps)";
    case KS_ERR_RECEIPT_MISMATCH:
        return "receipt does not describe this release";
    case KS_ERR_STATEMENT:
        return "request-key statement malformed or for another key";
    case KS_ERR_FRAME:
        return "malformed protocol frame";
    case KS_ERR_PROTO_REQUEST:
        return "malformed loader request";
    case KS_ERR_NO_PROGRAM:
        return "no program loaded";
    case KS_ERR_PROGRAM_WEIGHTS:
        return "program names other weights than the sealed file's";
    case KS_ERR_INFER_KEY:
        return "request encrypted to another request key";
    case KS_ERR_INFER_REPLAY:
        return "replayed request (its HPKE enc was seen before)";
    case KS_ERR_INFER_STALE:
        return "request time outside the replay window";
    case KS_ERR_REPLAY_FULL:
        return "replay cache full";
    case KS_ERR_EGRESS:
        return "egress budget exceeded";
    case KS_ERR_RESPONSE_OPEN:
        return "completion fails authentication";
    case KS_ERR_LOADER_REFUSED:
        return "the loader refused the request";

    case KS_ERR_SHAMIR_PARAMS:
        return "invalid k-of-n split (need 1 <= k <= n <= 255 and a 1..64-byte secret)";
    case KS_ERR_SHAMIR_INDEX:
        return "key share index invalid or repeated";
    case KS_ERR_SHAMIR_TOO_FEW:
        return "fewer key shares than the threshold";
    case KS_ERR_SHAMIR_MISMATCH:
        return "key shares from different splits";
    }
    return "unknown error";
}

int ks_error_exit_code(int err)
{
    if (err == KS_OK) {
        return 0;
    }
    switch ((enum ks_err)err) {
    case KS_ERR_NOMEM:
    case KS_ERR_IO:
    case KS_ERR_CRYPTO:
    case KS_ERR_INTERNAL:
    /* loader client: the TPM or the network failed, not the evidence */
    case KS_ERR_TPM_TCTI:
    case KS_ERR_TPM_CMD:
    case KS_ERR_HTTP_TRANSPORT:
    /* inference backends: the machine failed, not the input */
    case KS_ERR_BACKEND_UNAVAILABLE:
    case KS_ERR_BACKEND_MLOCK:
    case KS_ERR_BACKEND_DEVICE:
    case KS_ERR_SECMEM:
        return 3;
    case KS_ERR_INVALID_ARG:
    case KS_ERR_HEX:
    case KS_ERR_BASE64:
    case KS_ERR_NOT_FOUND:
    case KS_ERR_BACKEND_UNKNOWN:
    case KS_ERR_LOADER_CONFIG:
        return 2;
    /* store: the database itself failed -> internal; operator mistakes -> usage */
    case KS_ERR_DB:
    case KS_ERR_DB_BUSY:
    case KS_ERR_DB_SCHEMA_NEWER:
    case KS_ERR_DB_CORRUPT:
    case KS_ERR_DB_OPEN:
        return 3;
    case KS_ERR_DB_CONSTRAINT:
    case KS_ERR_DB_NOT_INIT:
    case KS_ERR_MASTER_KEY_PERMS:
    case KS_ERR_MASTER_KEY_SIZE:
    case KS_ERR_STORE_EXISTS:
    case KS_ERR_STORE_UNKNOWN_KEY:
    case KS_ERR_STORE_UNKNOWN_AK:
    case KS_ERR_STORE_UNKNOWN_POLICY:
    case KS_ERR_STORE_UNKNOWN_EK:
    case KS_ERR_STORE_STATE:
        return 2;
    default:
        /* Every structural or verification failure of untrusted input. */
        return 1;
    }
}
