"""Authenticated encryption for payloads at rest (quarantine payloads, source HMAC secrets).

AES-256-GCM under a key derived with HKDF-SHA256 from the installation's master
key and a purpose label, so the quarantine key is useless for anything else.
This is the one place to switch to :mod:`fitloop.privacy.vault` later.

Format: ``b"q1" | key id (4 bytes) | nonce (12 bytes) | ciphertext+tag``.
The key id lets a reader say "sealed under another master key" instead of
failing obscurely after a key rotation.

>>> key = derive_key("a-master-key-of-at-least-32-characters!!", "quarantine")
>>> blob = seal(key, b'{"a": 1}', aad=b"src")
>>> unseal(key, blob, aad=b"src")
b'{"a": 1}'
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fitloop.errors import FitloopError

__all__ = ["derive_key", "seal", "unseal", "SealError"]

_MAGIC = b"q1"


class SealError(FitloopError):
    """A sealed payload cannot be opened (other master key, or tampered with)."""

    http_status = 500
    default_code = "seal_error"


def derive_key(master_key: str, label: str) -> bytes:
    """A 256-bit key for ``label`` from the master key (the current one of a ``'v2:KEY,v1:OLD'`` spec)."""
    current = master_key.split(",", 1)[0]
    if ":" in current and current.split(":", 1)[0].startswith("v") and current.split(":", 1)[0][1:].isdigit():
        current = current.split(":", 1)[1]
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"fitloop-collect", info=b"fitloop/" + label.encode())
    return hkdf.derive(current.encode())


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"key-id" + key).digest()[:4]


def seal(key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
    nonce = os.urandom(12)
    return _MAGIC + _key_id(key) + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, *, aad: bytes = b"") -> bytes:
    if blob[:2] != _MAGIC or len(blob) < 2 + 4 + 12 + 16:
        raise SealError("not a sealed payload")
    if blob[2:6] != _key_id(key):
        raise SealError("the payload was sealed under another master key; restore that key to read it",
                        code="seal_other_key")
    try:
        return AESGCM(key).decrypt(blob[6:18], blob[18:], aad)
    except InvalidTag:
        raise SealError("the sealed payload was altered or its context does not match", code="seal_tampered") from None
