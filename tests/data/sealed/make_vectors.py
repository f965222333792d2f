# SPDX-License-Identifier: Apache-2.0
"""Known-answer vectors for the sealed-file format (lib/sealed.h), made with
Python's `cryptography` (AESGCM) from the format's description alone, as an
oracle independent of the C code (OpenSSL seals, libgcrypt unseals).

Run from this directory: python3 make_vectors.py   (writes the files below)
"""
import hashlib
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY = bytes(range(32))
NONCE_BASE = bytes(range(0xA0, 0xAC))


def seal(plain, chunk, name, version, key=KEY, nonce_base=NONCE_BASE):
    header = (b"KSSEAL01" + struct.pack(">IIQ", 1, chunk, len(plain)) +
              bytes([len(name)]) + name + struct.pack(">I", version) + nonce_base +
              hashlib.sha256(plain).digest())
    hdig = hashlib.sha256(header).digest()
    n = max(1, -(-len(plain) // chunk))
    out = [header]
    for i in range(n):
        nonce = nonce_base[:4] + bytes(a ^ b for a, b in zip(nonce_base[4:], struct.pack(">Q", i)))
        aad = b"ks-seal-v1\x00" + hdig + struct.pack(">QB", i, 1 if i == n - 1 else 0)
        out.append(AESGCM(key).encrypt(nonce, plain[i * chunk:(i + 1) * chunk], aad))
    return b"".join(out)


def write(name, data):
    with open(name, "wb") as f:
        f.write(data)


plain = bytes((i * 31 + 7) & 0xFF for i in range(10000))
write("kat.key", KEY)
write("kat.plain", plain)
# 10000 bytes in chunks of 4096: 4096, 4096, 1808 (the last one short).
write("kat.sealed", seal(plain, 4096, b"kat-key.v1", 7))
# The empty plaintext: one empty last chunk (a tag only).
write("kat-empty.sealed", seal(b"", 4096, b"empty", 1))
