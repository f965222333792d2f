#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An independent INFER client for the loader's integration test.

Written from man ks-loader(8) ("INFER") only, on Python's `cryptography`
package, so that it is an oracle for the C code (loader-ref/infer.c): RFC
9180 base mode (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) with
the secret export, checked at start against the RFC 9180 test vector of that
suite (its first encryption and its exports); then one request:

  info  = "ks-infer-v1" 0x00 key-name u32be(version)
  plain = 0x01 u64be(issued) u32be(max_new) prompt
  ct    = Seal(aad = id, plain); rk = Export("ks-infer-response", 32)
  reply = AES-256-GCM(rk, nonce, completion, aad = id)

sent as one frame (u32be length, JSON) to HOST:PORT or a UNIX socket.
Prints the completion in hex. The public key is given in hex: the shell test
takes it from `ks-client pubkey`, which verified the keyserver's statement.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEM_ID, KDF_ID, AEAD_ID = 0x0020, 0x0001, 0x0002
KEM_SUITE = b"KEM" + struct.pack(">H", KEM_ID)
SUITE = b"HPKE" + struct.pack(">HHH", KEM_ID, KDF_ID, AEAD_ID)


def hkdf_extract(salt, ikm):
    return hmac.new(salt or b"\0" * 32, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, n):
    out, block, counter = b"", b"", 1
    while len(out) < n:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:n]


def lextract(suite, salt, label, ikm):
    return hkdf_extract(salt, b"HPKE-v1" + suite + label + ikm)


def lexpand(suite, prk, label, info, n):
    return hkdf_expand(prk, struct.pack(">H", n) + b"HPKE-v1" + suite + label + info, n)


class Sender:
    """SetupBaseS (RFC 9180 5.1.1) and the context (5.2, 5.3)."""

    def __init__(self, pk_r, info, sk_e=None):
        sk_e = sk_e or X25519PrivateKey.generate()
        self.enc = sk_e.public_key().public_bytes(serialization.Encoding.Raw,
                                                  serialization.PublicFormat.Raw)
        dh = sk_e.exchange(X25519PublicKey.from_public_bytes(pk_r))
        prk = lextract(KEM_SUITE, b"", b"eae_prk", dh)
        shared = lexpand(KEM_SUITE, prk, b"shared_secret", self.enc + pk_r, 32)
        ctx = (b"\x00" + lextract(SUITE, b"", b"psk_id_hash", b"") +
               lextract(SUITE, b"", b"info_hash", info))
        secret = lextract(SUITE, shared, b"secret", b"")
        self.key = lexpand(SUITE, secret, b"key", ctx, 32)
        self.base_nonce = lexpand(SUITE, secret, b"base_nonce", ctx, 12)
        self.exporter = lexpand(SUITE, secret, b"exp", ctx, 32)
        self.seq = 0

    def seal(self, aad, pt):
        nonce = bytes(a ^ b for a, b in zip(self.base_nonce, self.seq.to_bytes(12, "big")))
        self.seq += 1
        return AESGCM(self.key).encrypt(nonce, pt, aad)

    def export(self, context, n):
        return lexpand(SUITE, self.exporter, b"sec", context, n)


def self_test(path):
    for v in json.load(open(path)):
        if (v["mode"], v["kem_id"], v["kdf_id"], v["aead_id"]) != (0, KEM_ID, KDF_ID, AEAD_ID):
            continue
        s = Sender(bytes.fromhex(v["pkRm"]), bytes.fromhex(v["info"]),
                   X25519PrivateKey.from_private_bytes(bytes.fromhex(v["skEm"])))
        e = v["encryptions"][0]
        ok = (s.enc.hex() == v["enc"] and
              s.seal(bytes.fromhex(e["aad"]), bytes.fromhex(e["pt"])).hex() == e["ct"])
        for x in v["exports"]:
            ok = ok and s.export(bytes.fromhex(x["exporter_context"]), x["L"]).hex() == x["exported_value"]
        if not ok:
            sys.exit("infer_client: HPKE self-test against RFC 9180 failed")
        return
    sys.exit("infer_client: no RFC 9180 vector for the suite")


def connect(a):
    if a.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(a.socket)
    else:
        host, port = a.connect.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    s.settimeout(60)
    return s


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            sys.exit("infer_client: connection closed")
        buf += chunk
    return buf


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hpke-vectors", required=True)
    p.add_argument("--public-key", required=True, help="hex, 32 bytes")
    p.add_argument("--key", required=True)
    p.add_argument("--version", type=int, required=True)
    p.add_argument("--prompt", required=True)
    p.add_argument("--max-new", type=int, default=0)
    p.add_argument("--connect")
    p.add_argument("--socket")
    a = p.parse_args()
    self_test(a.hpke_vectors)

    info = b"ks-infer-v1\x00" + a.key.encode() + struct.pack(">I", a.version)
    s = Sender(bytes.fromhex(a.public_key), info)
    rid = os.urandom(16)
    plain = b"\x01" + struct.pack(">QI", int(time.time()), a.max_new) + a.prompt.encode()
    ct = s.seal(rid, plain)
    rk = s.export(b"ks-infer-response", 32)
    b64 = lambda b: base64.b64encode(b).decode()
    req = json.dumps({"op": "infer", "key": a.key, "version": a.version, "id": b64(rid),
                      "enc": b64(s.enc), "ct": b64(ct)}).encode()
    conn = connect(a)
    conn.sendall(struct.pack(">I", len(req)) + req)
    (n,) = struct.unpack(">I", read_exact(conn, 4))
    resp = json.loads(read_exact(conn, n))
    if not resp.get("ok"):
        print("refused: %s" % resp.get("error"), file=sys.stderr)
        sys.exit(1)
    if base64.b64decode(resp["id"]) != rid:
        sys.exit("infer_client: the answer is for another request")
    out = AESGCM(rk).decrypt(base64.b64decode(resp["nonce"]), base64.b64decode(resp["ct"]), rid)
    print(out.hex())


if __name__ == "__main__":
    main()
