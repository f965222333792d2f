#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in keyserver for the loader client's integration test.

It speaks the protocol of DESIGN "Protocol" (POST /v1/challenge, POST
/v1/release) over HTTPS and is written independently of the C code, so that
it can serve as the client's oracle:
  - the request is checked member by member (duplicates refused), the
    quote's binding is recomputed with hashlib, the quote itself is checked
    with `ksctl quote verify` and its pcrDigest again here from the submitted
    PCR map;
  - keys are sealed with its own RFC 9180 HPKE (base mode, DHKEM(X25519,
    HKDF-SHA256), HKDF-SHA256, AES-256-GCM) on the `cryptography` package,
    checked at start against the RFC 9180 test vector of that suite.
Special key names make it misbehave: deny-me (403 policy_denied),
tamper-me (a ciphertext bit flipped), extra-me (an unrequested key added),
wrong-info (sealed with another key name's info).
Each accepted request is written to LOG_DIR/request.json, each receipt
payload to LOG_DIR/receipt.payload.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import ssl
import struct
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives import serialization

LABEL = b"ks-release-v1"
KEM_ID, KDF_ID, AEAD_ID = 0x0020, 0x0001, 0x0002
KEM_SUITE = b"KEM" + struct.pack(">H", KEM_ID)
HPKE_SUITE = b"HPKE" + struct.pack(">HHH", KEM_ID, KDF_ID, AEAD_ID)


# ---- RFC 9180 -------------------------------------------------------------
def extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def expand(prk, info, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def labeled_extract(suite, salt, label, ikm):
    return extract(salt, b"HPKE-v1" + suite + label + ikm)


def labeled_expand(suite, prk, label, info, n):
    return expand(prk, struct.pack(">H", n) + b"HPKE-v1" + suite + label + info, n)


def raw_pub(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def seal_base(pk_r, info, aad, pt, sk_e=None):
    """SetupBaseS + Seal with sequence number 0 (RFC 9180 sections 4.1, 5.1, 6.1)."""
    sk_e = sk_e or X25519PrivateKey.generate()
    enc = raw_pub(sk_e)
    dh = sk_e.exchange(X25519PublicKey.from_public_bytes(pk_r))
    eae_prk = labeled_extract(KEM_SUITE, b"", b"eae_prk", dh)
    shared = labeled_expand(KEM_SUITE, eae_prk, b"shared_secret", enc + pk_r, 32)
    ctx = (b"\x00" + labeled_extract(HPKE_SUITE, b"", b"psk_id_hash", b"")
           + labeled_extract(HPKE_SUITE, b"", b"info_hash", info))
    secret = labeled_extract(HPKE_SUITE, shared, b"secret", b"")
    key = labeled_expand(HPKE_SUITE, secret, b"key", ctx, 32)
    nonce = labeled_expand(HPKE_SUITE, secret, b"base_nonce", ctx, 12)
    return enc, AESGCM(key).encrypt(nonce, pt, aad)


def self_test(path):
    """The first encryption of the RFC 9180 vector of this suite, base mode."""
    for v in json.load(open(path)):
        if (v["mode"], v["kem_id"], v["kdf_id"], v["aead_id"]) != (0, KEM_ID, KDF_ID, AEAD_ID):
            continue
        sk_e = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["skEm"]))
        e = v["encryptions"][0]
        enc, ct = seal_base(bytes.fromhex(v["pkRm"]), bytes.fromhex(v["info"]),
                            bytes.fromhex(e["aad"]), bytes.fromhex(e["pt"]), sk_e)
        if enc.hex() != v["enc"] or ct.hex() != e["ct"]:
            sys.exit("mock_keyserver: HPKE self-test against RFC 9180 failed")
        return
    sys.exit("mock_keyserver: no RFC 9180 vector for the suite")


# ---- the request ------------------------------------------------------------
class Refused(Exception):
    def __init__(self, status, code, detail):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Refused(400, "bad_request", "duplicate member")
    return dict(pairs)


def b64(s, what, n=None):
    if not isinstance(s, str):
        raise Refused(400, "bad_request", what + ": not a string")
    try:
        raw = base64.b64decode(s, validate=True)
    except binascii.Error:
        raise Refused(400, "bad_request", what + ": bad base64")
    if base64.b64encode(raw).decode() != s or (n is not None and len(raw) != n):
        raise Refused(400, "bad_request", what + ": bad length or encoding")
    return raw


def parse_attest(a):
    """TPMS_ATTEST of a quote (TPM 2.0 Part 2, 10.12.12): extraData, the PCR
    selection as [(alg, [pcr, ...]), ...] and pcrDigest."""
    def tpm2b(off):
        n = struct.unpack_from(">H", a, off)[0]
        return a[off + 2:off + 2 + n], off + 2 + n
    _magic, _type = struct.unpack_from(">IH", a, 0)
    _signer, off = tpm2b(6)
    extra, off = tpm2b(off)
    off += 17 + 8  # clockInfo, firmwareVersion
    count = struct.unpack_from(">I", a, off)[0]
    off += 4
    sel = []
    for _ in range(count):
        alg, size = struct.unpack_from(">HB", a, off)
        bits = int.from_bytes(a[off + 3:off + 3 + size], "little")
        sel.append((alg, [i for i in range(8 * size) if bits >> i & 1]))
        off += 3 + size
    digest, off = tpm2b(off)
    if off != len(a):
        raise Refused(403, "attestation_failed", "trailing bytes after TPMS_ATTEST")
    return extra, sel, digest


BANKS = {0x0004: ("sha1", 20), 0x000B: ("sha256", 32), 0x000C: ("sha384", 48),
         0x000D: ("sha512", 64)}


class Handler(BaseHTTPRequestHandler):
    server_version = "mock-keyserver"

    def log_message(self, fmt, *args):
        sys.stderr.write("mock_keyserver: " + (fmt % args) + "\n")

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        try:
            if self.headers.get("Content-Type") != "application/json":
                raise Refused(415, "unsupported_media_type", "expected application/json")
            if self.path == "/v1/challenge":
                return self.challenge()
            if self.path == "/v1/release":
                return self.release(body)
            raise Refused(404, "not_found", "no such endpoint")
        except Refused as e:
            self.reply(e.status, {"error": e.code, "detail": e.detail})

    def challenge(self):
        nonce = secrets.token_bytes(32)
        self.server.nonces.add(nonce)
        self.reply(200, {"nonce": base64.b64encode(nonce).decode(),
                         "expires": int(time.time()) + 60})

    def release(self, body):
        try:
            req = json.loads(body, object_pairs_hook=no_duplicates)
        except ValueError:
            raise Refused(400, "bad_request", "invalid JSON")
        required = {"ak_id", "nonce", "hpke_pk", "keys", "quote", "pcrs"}
        optional = {"event_log", "ima_log", "app_log"}
        if not isinstance(req, dict) or not required <= set(req) <= required | optional:
            raise Refused(400, "bad_request", "members")
        nonce = b64(req["nonce"], "nonce", 32)
        pk = b64(req["hpke_pk"], "hpke_pk", 32)
        for log in optional & set(req):
            b64(req[log], log)
        if nonce not in self.server.nonces:
            raise Refused(403, "nonce_invalid", "not issued here, or used")
        self.server.nonces.discard(nonce)
        with open(os.path.join(self.server.log_dir, "request.json"), "wb") as f:
            f.write(body)
        ak_pub = self.server.aks.get(req["ak_id"])
        if ak_pub is None:
            raise Refused(403, "attestation_failed", "unknown AK")
        q = req["quote"]
        if not isinstance(q, dict) or set(q) != {"attest", "signature"}:
            raise Refused(400, "bad_request", "quote")
        attest, sig = b64(q["attest"], "attest"), b64(q["signature"], "signature")
        binding = hashlib.sha256(LABEL + b"\x00" + nonce + pk).digest()
        extra, sel, digest = parse_attest(attest)
        if extra != binding:
            raise Refused(403, "attestation_failed", "binding")
        # The PCR map must hold exactly the quoted PCRs; their digest is the quote's.
        values, pcrs = b"", req["pcrs"]
        if set(pcrs) != {BANKS[alg][0] for alg, _ in sel}:
            raise Refused(400, "bad_request", "PCR banks")
        for alg, idx in sel:
            name, size = BANKS[alg]
            bank = pcrs[name]
            if set(bank) != {str(i) for i in idx}:
                raise Refused(400, "bad_request", "PCRs of " + name)
            for i in idx:
                v = bank[str(i)]
                if v != v.lower() or len(v) != 2 * size:
                    raise Refused(400, "bad_request", "PCR value")
                values += bytes.fromhex(v)
        if hashlib.sha256(values).digest() != digest:
            raise Refused(403, "attestation_failed", "pcrDigest")
        with tempfile.TemporaryDirectory() as d:
            for fn, data in (("attest", attest), ("sig", sig), ("pcrs", values)):
                with open(os.path.join(d, fn), "wb") as f:
                    f.write(data)
            rc = subprocess.call([self.server.ksctl, "quote", "verify", "--ak-pub", ak_pub,
                                  "--attest", d + "/attest", "--sig", d + "/sig",
                                  "--nonce", binding.hex(), "--pcrs", d + "/pcrs"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if rc != 0:
            raise Refused(403, "attestation_failed", "ksctl quote verify: exit %d" % rc)
        self.release_keys(req["keys"], pk, nonce)

    def release_keys(self, refs, pk, nonce):
        if not isinstance(refs, list) or not refs:
            raise Refused(400, "bad_request", "keys")
        if "deny-me" in refs:
            raise Refused(403, "policy_denied", "denied by policy")
        out = []
        for ref in refs:
            name, _, ver = ref.partition("@")
            version = int(ver) if ver else 1
            path = os.path.join(self.server.keys_dir, name + ".key")
            if not os.path.exists(path):
                raise Refused(403, "policy_denied", "unknown key")
            info_name = "dek" if name == "wrong-info" else name
            enc, ct = seal_base(pk, LABEL + b"\x00" + info_name.encode(), nonce,
                                open(path, "rb").read())
            if name == "tamper-me":
                ct = ct[:-1] + bytes([ct[-1] ^ 1])
            out.append({"name": name, "version": version,
                        "enc": base64.b64encode(enc).decode(),
                        "ciphertext": base64.b64encode(ct).decode()})
        if "extra-me" in refs:
            out.append(dict(out[0], name="unrequested"))
        payload = json.dumps({"keys": [[k["name"], k["version"]] for k in out],
                              "time": int(time.time())}).encode()
        with open(os.path.join(self.server.log_dir, "receipt.payload"), "wb") as f:
            f.write(payload)
        self.reply(200, {"keys": out,
                         "receipt": {"payload": base64.b64encode(payload).decode(),
                                     "signature": base64.b64encode(b"\x30\x06mock").decode()}})


def ak_name(pub_path):
    """The TPM Name of a TPM2B_PUBLIC file with nameAlg SHA-256 (TPM 2.0 Part 1, 16)."""
    data = open(pub_path, "rb").read()
    tpmt = data[2:]
    if struct.unpack(">H", data[:2])[0] != len(tpmt) or tpmt[2:4] != b"\x00\x0b":
        sys.exit("mock_keyserver: %s is not a TPM2B_PUBLIC with nameAlg sha256" % pub_path)
    return "000b" + hashlib.sha256(tpmt).hexdigest()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ak-pub", action="append", default=[])
    p.add_argument("--ksctl", required=True)
    p.add_argument("--keys-dir", required=True)
    p.add_argument("--log-dir", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--hpke-vectors", required=True)
    a = p.parse_args()
    self_test(a.hpke_vectors)
    srv = HTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.nonces = set()
    srv.aks = {ak_name(f): f for f in a.ak_pub}
    srv.ksctl, srv.keys_dir, srv.log_dir = a.ksctl, a.keys_dir, a.log_dir
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
