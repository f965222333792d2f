/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_ERROR_H
#define KS_ERROR_H

/*
 * One error enum for the whole project. Every fallible function returns
 * KS_OK (0) or a negative KS_ERR_* code. Codes are grouped by module; each
 * module adds its codes in its own block. ks_strerror() never returns NULL.
 * Exactly one function maps codes to HTTP statuses (keyserverd) and one to
 * CLI exit codes (ks_error_exit_code below).
 */

#define KS_WUR __attribute__((warn_unused_result))

enum ks_err {
    KS_OK = 0,

    /* generic */
    KS_ERR_NOMEM = -1,
    KS_ERR_INVALID_ARG = -2,
    KS_ERR_IO = -3,
    KS_ERR_CRYPTO = -4,
    KS_ERR_TOO_LARGE = -5,
    KS_ERR_UNSUPPORTED = -6,
    KS_ERR_NOT_FOUND = -7,
    KS_ERR_INTERNAL = -8,

    /* encoding */
    KS_ERR_HEX = -20,
    KS_ERR_BASE64 = -21,

    /* TPM structures (tpm_public, tpm_attest) */
    KS_ERR_TPM_UNMARSHAL = -40,
    KS_ERR_TPM_TRAILING = -41,
    KS_ERR_TPM_ALG = -42,
    KS_ERR_TPM_KEY = -43,
    KS_ERR_TPM_ATTRIBUTES = -44,
    KS_ERR_TPM_NAME = -45,
    KS_ERR_TPM_KEY_MISMATCH = -46,

    /* quote verification */
    KS_ERR_QUOTE_SIG_SCHEME = -60,
    KS_ERR_QUOTE_SIG_INVALID = -61,
    KS_ERR_QUOTE_MAGIC = -62,
    KS_ERR_QUOTE_TYPE = -63,
    KS_ERR_QUOTE_EXTRADATA = -64,
    KS_ERR_QUOTE_PCR_SELECTION = -65,
    KS_ERR_QUOTE_PCR_MISSING = -66,
    KS_ERR_QUOTE_PCR_DIGEST = -67,
    KS_ERR_QUOTE_KEY_MISMATCH = -68,
    KS_ERR_QUOTE_SIG_MALFORMED = -69,
    KS_ERR_QUOTE_PCR_FILE = -70,

    /* PCR sets */
    KS_ERR_PCR_INDEX = -80,
    KS_ERR_PCR_BANK = -81,

    /* TCG event log */
    KS_ERR_EVLOG_EMPTY = -100,
    KS_ERR_EVLOG_TRUNCATED = -101,
    KS_ERR_EVLOG_HEADER = -102,
    KS_ERR_EVLOG_SPECID = -103,
    KS_ERR_EVLOG_DIGEST_ALG = -104,
    KS_ERR_EVLOG_PCR_INDEX = -105,
    KS_ERR_EVLOG_EVENT_SIZE = -106,
    KS_ERR_EVLOG_TOO_MANY = -107,
    KS_ERR_EVLOG_MALFORMED = -108,

    /* IMA log */
    KS_ERR_IMA_EMPTY = -120,
    KS_ERR_IMA_MALFORMED = -121,
    KS_ERR_IMA_TEMPLATE = -122,
    KS_ERR_IMA_DIGEST_ALG = -123,
    KS_ERR_IMA_TOO_MANY = -124,
    KS_ERR_IMA_NO_MATCH = -125,
    KS_ERR_IMA_TRUNCATED = -126,
    KS_ERR_IMA_PCR_INDEX = -127,
    KS_ERR_IMA_FIELD_SIZE = -128,

    /* receipts */
    KS_ERR_RECEIPT_SIGNATURE = -150,

    /* HPKE */
    KS_ERR_HPKE_KEY = -140,
    KS_ERR_HPKE_OPEN = -141,
    KS_ERR_HPKE_SEQ = -142,
    KS_ERR_HPKE_EXPORT = -143,

    /* store (db/): SQLite, master key, key wrapping, audit chain */
    KS_ERR_DB = -160,
    KS_ERR_DB_BUSY = -161,
    KS_ERR_DB_SCHEMA_NEWER = -162,
    KS_ERR_DB_CONSTRAINT = -163,
    KS_ERR_DB_CORRUPT = -164,
    KS_ERR_DB_OPEN = -165,
    KS_ERR_DB_NOT_INIT = -166,
    KS_ERR_MASTER_KEY_PERMS = -167,
    KS_ERR_MASTER_KEY_SIZE = -168,
    KS_ERR_KEY_UNWRAP = -169,
    KS_ERR_AUDIT_CHAIN = -170,
    KS_ERR_STORE_EXISTS = -171,
    KS_ERR_STORE_UNKNOWN_KEY = -172,
    KS_ERR_STORE_UNKNOWN_AK = -173,
    KS_ERR_STORE_UNKNOWN_POLICY = -174,
    KS_ERR_STORE_UNKNOWN_EK = -175,
    KS_ERR_STORE_STATE = -176,
    KS_ERR_AK_CLOCK_ROLLBACK = -177,

    /* keyserverd: HTTP-level and release outcomes (mapped to HTTP statuses
     * only by ks_http_status_for() in keyserverd/http.c) */
    KS_ERR_BAD_REQUEST = -200,
    KS_ERR_MEDIA_TYPE = -201,
    KS_ERR_METHOD = -202,
    KS_ERR_NONCE_INVALID = -203,
    KS_ERR_NONCE_EXPIRED = -204,
    KS_ERR_NONCE_USED = -205,
    KS_ERR_ATTESTATION = -206,
    KS_ERR_POLICY_DENIED = -207,
    KS_ERR_RATE_LIMITED = -208,
    KS_ERR_NONCE_CACHE_FULL = -209,
    KS_ERR_CONFIG = -210,
    KS_ERR_TLS = -211,

    /* loader client (loader-ref/): TPM access, HTTPS, the release response */
    KS_ERR_TPM_TCTI = -240,
    KS_ERR_TPM_CMD = -241,
    KS_ERR_TPM_PCR_BANK = -242,
    KS_ERR_TPM_PCR_RACE = -243,
    KS_ERR_HTTP_TRANSPORT = -244,
    KS_ERR_HTTP_TLS_VERIFY = -245,
    KS_ERR_HTTP_STATUS = -246,
    KS_ERR_SERVER_ERROR = -247,
    KS_ERR_RESP_JSON = -248,
    KS_ERR_RESP_DUPLICATE = -249,
    KS_ERR_RESP_MISSING = -250,
    KS_ERR_RESP_TYPE = -251,
    KS_ERR_RESP_UNKNOWN = -252,
    KS_ERR_RESP_VALUE = -253,
    KS_ERR_RESP_KEY_EXTRA = -254,
    KS_ERR_RESP_KEY_MISSING = -255,
    KS_ERR_RESP_ENC_LEN = -256,

    /* enrollment (lib/makecred, lib/ekcert, lib/roca, POST /v1/enroll) */
    KS_ERR_CRED_MALFORMED = -270,
    KS_ERR_CRED_INTEGRITY = -271,
    KS_ERR_ROCA_WEAK = -272,
    KS_ERR_EKCERT_PARSE = -273,
    KS_ERR_EKCERT_UNTRUSTED = -274,
    KS_ERR_EKCERT_EXPIRED = -275,
    KS_ERR_EKCERT_NOT_YET_VALID = -276,
    KS_ERR_EKCERT_REVOKED = -277,
    KS_ERR_EKCERT_KEY_MISMATCH = -278,
    KS_ERR_EK_NOT_APPROVED = -279,
    KS_ERR_EK_REVOKED = -280,
    KS_ERR_ENROLL_REFUSED = -281,
    KS_ERR_ENROLL_UNKNOWN = -282,
    KS_ERR_ENROLL_USED = -283,
    KS_ERR_ENROLL_EXPIRED = -284,
    KS_ERR_ENROLL_SECRET = -285,
    KS_ERR_ENROLL_TOO_MANY = -286,

    /* sealed files (lib/sealed) */
    KS_ERR_SEAL_MAGIC = -300,
    KS_ERR_SEAL_VERSION = -301,
    KS_ERR_SEAL_CHUNK_SIZE = -302,
    KS_ERR_SEAL_LENGTH = -303,
    KS_ERR_SEAL_KEY_NAME = -304,
    KS_ERR_SEAL_KEY_VERSION = -305,
    KS_ERR_SEAL_HEADER_TRUNCATED = -306,
    KS_ERR_SEAL_TRUNCATED = -307,
    KS_ERR_SEAL_TRAILING = -308,
    KS_ERR_SEAL_AUTH = -309,
    KS_ERR_SEAL_DIGEST = -310,
    KS_ERR_SEAL_KEY_MISMATCH = -311,
    KS_ERR_SEAL_INPUT_CHANGED = -312,
    KS_ERR_SEAL_NOT_REGULAR = -313,

    /* reference model, inference backends, program manifests (loader-ref/) */
    KS_ERR_MODEL_MAGIC = -320,
    KS_ERR_MODEL_VERSION = -321,
    KS_ERR_MODEL_DIMS = -322,
    KS_ERR_MODEL_SIZE = -323,
    KS_ERR_MODEL_MISMATCH = -324,
    KS_ERR_MODEL_PROMPT = -325,
    KS_ERR_BACKEND_UNKNOWN = -326,
    KS_ERR_BACKEND_UNAVAILABLE = -327,
    KS_ERR_BACKEND_MLOCK = -328,
    KS_ERR_BACKEND_STATE = -329,
    KS_ERR_BACKEND_DEVICE = -330,
    KS_ERR_PROGRAM_JSON = -331,
    KS_ERR_PROGRAM_FIELD = -332,
    KS_ERR_PROGRAM_SIGNATURE = -333,
    KS_ERR_PROGRAM_KEY = -334,

    /* trusted loader and the user's side (loader-ref/: ks-launch, ks-loader,
     * its socket protocol, ks-client, ks-relay) */
    KS_ERR_APPLOG_STATE = -350,
    KS_ERR_APPLOG_FOREIGN = -351,
    KS_ERR_LOADER_CONFIG = -352,
    KS_ERR_SECMEM = -353,
    KS_ERR_RECEIPT_MISMATCH = -354,
    KS_ERR_STATEMENT = -355,
    KS_ERR_FRAME = -356,
    KS_ERR_PROTO_REQUEST = -357,
    KS_ERR_NO_PROGRAM = -358,
    KS_ERR_PROGRAM_WEIGHTS = -359,
    KS_ERR_INFER_KEY = -360,
    KS_ERR_INFER_REPLAY = -361,
    KS_ERR_INFER_STALE = -362,
    KS_ERR_REPLAY_FULL = -363,
    KS_ERR_EGRESS = -364,
    KS_ERR_RESPONSE_OPEN = -365,
    KS_ERR_LOADER_REFUSED = -366,

    /* Shamir k-of-n key splitting (lib/shamir) */
    KS_ERR_SHAMIR_PARAMS = -380,
    KS_ERR_SHAMIR_INDEX = -381,
    KS_ERR_SHAMIR_TOO_FEW = -382,
    KS_ERR_SHAMIR_MISMATCH = -383,
};

/* Human-readable, static, never NULL. */
const char *ks_strerror(int err);

/* Exit code for command-line tools: 0 ok, 1 verification refused, 2 usage or
 * input error, 3 internal/system error. */
int ks_error_exit_code(int err);

#endif
