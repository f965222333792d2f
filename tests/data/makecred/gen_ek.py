#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Makes a software "EK" (a key pair whose public area follows the TCG EK
# templates) for the tpm2_makecredential cross-check fixtures; see README.md.
#   gen_ek.py rsa2048|p256|p384 OUT_PREFIX
# writes OUT_PREFIX.priv.pem (PKCS#8) and OUT_PREFIX.pub (TPM2B_PUBLIC).
import struct, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

kind, out = sys.argv[1], sys.argv[2]
# TCG EK Credential Profile 2.x, B.3.3 (L-1 RSA), B.3.4 (L-2 ECC P-256) and
# B.4.5 (H-3 ECC P-384) attributes: fixedTPM|fixedParent|sensitiveDataOrigin|
# adminWithPolicy|restricted|decrypt (0x000300b2); H-3 adds userWithAuth.
POLICY_A_SHA256 = bytes.fromhex("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa")
POLICY_B_SHA384 = bytes.fromhex("b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419ca"
                                "cb47ba09699646150f9fc000f3f80e12")
def b2(x): return struct.pack(">H", len(x)) + x
if kind == "rsa2048":
    key = rsa.generate_private_key(65537, 2048)
    n = key.public_key().public_numbers().n.to_bytes(256, "big")
    t = struct.pack(">HHI", 0x0001, 0x000b, 0x000300b2) + b2(POLICY_A_SHA256)
    t += struct.pack(">HHH", 0x0006, 128, 0x0043) + struct.pack(">HHI", 0x0010, 2048, 0) + b2(n)
elif kind in ("p256", "p384"):
    curve, size, tpm_curve = (ec.SECP256R1(), 32, 3) if kind == "p256" else (ec.SECP384R1(), 48, 4)
    key = ec.generate_private_key(curve)
    pn = key.public_key().public_numbers()
    x, y = pn.x.to_bytes(size, "big"), pn.y.to_bytes(size, "big")
    if kind == "p256":
        t = struct.pack(">HHI", 0x0023, 0x000b, 0x000300b2) + b2(POLICY_A_SHA256)
        t += struct.pack(">HHH", 0x0006, 128, 0x0043)
    else:
        t = struct.pack(">HHI", 0x0023, 0x000c, 0x000300f2) + b2(POLICY_B_SHA384)
        t += struct.pack(">HHH", 0x0006, 256, 0x0043)
    t += struct.pack(">HHH", 0x0010, tpm_curve, 0x0010) + b2(x) + b2(y)
else:
    sys.exit("unknown kind " + kind)
open(out + ".priv.pem", "wb").write(key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
open(out + ".pub", "wb").write(b2(t))
