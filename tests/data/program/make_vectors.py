# SPDX-License-Identifier: Apache-2.0
"""A signed program manifest (loader-ref/program.h) made with Python's json
and `cryptography` (Ed25519), from the format's description alone: an oracle
independent of the C code (jansson + OpenSSL).

The CI key is the first test key of RFC 8032 section 7.1 (TEST 1), whose
public key is d75a9801...511a. Ed25519 is deterministic, so the C signer must
reproduce signed.json byte for byte.

Run from this directory: python3 make_vectors.py
"""
import base64
import hashlib
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
key = Ed25519PrivateKey.from_private_bytes(SECRET)
pub = key.public_key()
assert pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex() == \
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

manifest = {
    "v": 1,
    "name": "demo-model",
    "model": {"vocab": 256, "d_model": 64, "n_layers": 2, "n_heads": 4, "d_ff": 256,
              "max_seq": 128},
    "weights_sha256": hashlib.sha256(b"ks-seal test weights").hexdigest(),
    "max_new_tokens": 64,
}
mbytes = json.dumps(manifest, separators=(",", ":")).encode()
signed = {"manifest": base64.b64encode(mbytes).decode(),
          "signature": base64.b64encode(key.sign(mbytes)).decode()}

open("manifest.json", "wb").write(mbytes)
open("signed.json", "wb").write(json.dumps(signed, separators=(",", ":")).encode())
open("ci.pem", "wb").write(key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
open("ci.pub.pem", "wb").write(pub.public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo))
