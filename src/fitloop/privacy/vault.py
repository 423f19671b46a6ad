"""Envelope encryption for identity data (tier L1), with crypto-shredding.

* Each person gets a random 256-bit **data key** on first use. Their L1 values
  are encrypted with AES-256-GCM under it.
* The data key is stored only **wrapped** (AES-256-GCM) under the current
  version of the **master key**, which lives in the settings, never in the database.
* Each ciphertext is bound to its person, table, column and row through the
  GCM associated data: copying it to another row or column makes it undecryptable.
* **Rotation without downtime**: add a master key version and make it current;
  new data keys are wrapped with it, old ones still unwrap with the old version.
  :meth:`Vault.rewrap_all` rewraps every data key (only the small key rows, the
  data is not re-encrypted); after it the old master version can be removed.
* **Erasure**: :meth:`Vault.forget` deletes the person's data key. Every copy of
  their ciphertext, backups included, is unreadable from then on.

Ciphertext layout: ``0x01`` (format) ‖ 12-byte nonce ‖ AES-GCM ciphertext+tag.
The master key version is kept with the wrapped data key rather than in each
ciphertext, so rotating the master key never touches the data rows.

>>> ring = MasterKeyring({1: b"m" * 32}, current=1)
>>> vault = Vault(ring, InMemoryDataKeyStore())
>>> ct = vault.encrypt("person-1", "identity", "email", "row-7", "anna@example.com")
>>> vault.decrypt("person-1", "identity", "email", "row-7", ct)
b'anna@example.com'
>>> vault.forget("person-1")
True
>>> vault.decrypt("person-1", "identity", "email", "row-7", ct)  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
...
fitloop.privacy.vault.DataKeyErased: no data key for this person: it was erased (or never existed)
"""

from __future__ import annotations

import os
import re
import struct
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fitloop.errors import ConfigError, FitloopError

__all__ = [
    "VaultError",
    "DataKeyErased",
    "WrappedKey",
    "DataKeyStore",
    "InMemoryDataKeyStore",
    "MasterKeyring",
    "Vault",
    "derive_master_key",
]

_FORMAT = 1
_NONCE = 12
_KEY_BYTES = 32


class VaultError(FitloopError):
    """A ciphertext or key could not be used (altered, moved, or a master key is missing)."""

    http_status = 500
    default_code = "vault_error"


class DataKeyErased(VaultError):
    """The person's data key is gone (erased): their encrypted data can no longer be read."""

    http_status = 410
    default_code = "data_key_erased"


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A person's data key, encrypted under master key ``master_version``: nonce ‖ ciphertext+tag."""

    person_id: str
    master_version: int
    wrapped: bytes


@runtime_checkable
class DataKeyStore(Protocol):
    """Where wrapped data keys live (SQL table, Redis hash, …). Keys are small; one row per person."""

    def get(self, person_id: str) -> WrappedKey | None: ...

    def add(self, key: WrappedKey) -> WrappedKey:
        """Insert if absent (atomically) and return the stored key, which may be another writer's."""
        ...

    def put(self, key: WrappedKey) -> None:
        """Insert or replace (used by rewrapping)."""
        ...

    def delete(self, person_id: str) -> bool:
        """Remove the key; True if there was one."""
        ...

    def iter(self) -> Iterator[WrappedKey]: ...


class InMemoryDataKeyStore:
    """A :class:`DataKeyStore` in a dict, for tests and the demo."""

    def __init__(self) -> None:
        self._keys: dict[str, WrappedKey] = {}
        self._lock = threading.Lock()

    def get(self, person_id: str) -> WrappedKey | None:
        return self._keys.get(person_id)

    def add(self, key: WrappedKey) -> WrappedKey:
        with self._lock:
            return self._keys.setdefault(key.person_id, key)

    def put(self, key: WrappedKey) -> None:
        with self._lock:
            self._keys[key.person_id] = key

    def delete(self, person_id: str) -> bool:
        with self._lock:
            return self._keys.pop(person_id, None) is not None

    def iter(self) -> Iterator[WrappedKey]:
        return iter(list(self._keys.values()))

    def __len__(self) -> int:
        return len(self._keys)


def _lp(*parts: str) -> bytes:
    """Length-prefixed concatenation, so ('ab','c') and ('a','bc') never collide."""
    out = bytearray()
    for p in parts:
        b = p.encode("utf-8")
        out += struct.pack(">I", len(b)) + b
    return bytes(out)


def derive_master_key(secret: str | bytes, version: int) -> bytes:
    """A 256-bit key from a configured secret string (HKDF-SHA256, bound to the version)."""
    s = secret.encode() if isinstance(secret, str) else secret
    hkdf = HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=b"fitloop-vault-master", info=b"v%d" % version)
    return hkdf.derive(s)


class MasterKeyring:
    """Versioned master keys; ``current`` wraps new data keys, every version unwraps.

    >>> ring = MasterKeyring.parse("v2:" + "n" * 40 + ",v1:" + "o" * 40)
    >>> ring.current, ring.versions
    (2, (1, 2))
    """

    def __init__(self, keys: Mapping[int, bytes], current: int) -> None:
        if current not in keys:
            raise ConfigError(f"current master key version {current} is not in the keyring {sorted(keys)}",
                              code="master_key_missing")
        for v, k in keys.items():
            if len(k) != _KEY_BYTES:
                raise ConfigError(f"master key v{v} must be exactly {_KEY_BYTES} bytes (AES-256)",
                                  code="master_key_invalid")
        self._keys = {int(v): bytes(k) for v, k in keys.items()}
        self.current = int(current)

    @classmethod
    def parse(cls, spec: str) -> MasterKeyring:
        """Parse the ``FITLOOP_MASTER_KEY`` setting: ``"v2:NEWSECRET,v1:OLDSECRET"`` (first = current)
        or a single secret (version 1). Each secret is stretched to 256 bits with HKDF."""
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        if not parts:
            raise ConfigError("FITLOOP_MASTER_KEY is empty; set it to 'v1:<random secret>'", code="master_key_missing")
        keys: dict[int, bytes] = {}
        current: int | None = None
        for part in parts:
            m = re.fullmatch(r"v(\d+):(.+)", part, flags=re.S)
            version, secret = (int(m.group(1)), m.group(2)) if m else (1, part)
            if len(secret) < 16:
                raise ConfigError(f"master key v{version} is too short; use at least 32 random characters",
                                  code="master_key_invalid")
            if version in keys:
                raise ConfigError(f"master key version v{version} is listed twice", code="master_key_invalid")
            keys[version] = derive_master_key(secret, version)
            current = version if current is None else current
        assert current is not None
        return cls(keys, current)

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._keys))

    def key(self, version: int) -> bytes:
        try:
            return self._keys[version]
        except KeyError:
            raise VaultError(f"master key v{version} is not configured; add it back to FITLOOP_MASTER_KEY until "
                             "rewrap_all() has moved every data key to the current version",
                             code="master_key_missing") from None

    def with_key(self, version: int, key: bytes, *, make_current: bool = True) -> MasterKeyring:
        keys = {**self._keys, version: key}
        return MasterKeyring(keys, version if make_current else self.current)

    def without(self, version: int) -> MasterKeyring:
        keys = {v: k for v, k in self._keys.items() if v != version}
        return MasterKeyring(keys, self.current)


class Vault:
    """Encrypt/decrypt one L1 value at a time under the person's data key."""

    def __init__(self, keyring: MasterKeyring, key_store: DataKeyStore) -> None:
        self.keyring = keyring
        self.key_store = key_store

    # ------------------------------------------------------------------ data keys
    def _wrap(self, person_id: str, data_key: bytes, version: int) -> WrappedKey:
        nonce = os.urandom(_NONCE)
        aad = b"fitloop-dk-v1" + _lp(person_id) + struct.pack(">I", version)
        ct = AESGCM(self.keyring.key(version)).encrypt(nonce, data_key, aad)
        return WrappedKey(person_id, version, nonce + ct)

    def _unwrap(self, wk: WrappedKey) -> bytes:
        aad = b"fitloop-dk-v1" + _lp(wk.person_id) + struct.pack(">I", wk.master_version)
        try:
            return AESGCM(self.keyring.key(wk.master_version)).decrypt(wk.wrapped[:_NONCE], wk.wrapped[_NONCE:], aad)
        except InvalidTag:
            raise VaultError("a wrapped data key does not open with its master key (wrong key or altered row)",
                             code="data_key_invalid") from None

    def _data_key(self, person_id: str, create: bool) -> bytes:
        wk = self.key_store.get(person_id)
        if wk is None:
            if not create:
                raise DataKeyErased("no data key for this person: it was erased (or never existed)")
            # add() is insert-if-absent, so two first writers end up with the same key.
            wk = self.key_store.add(self._wrap(person_id, AESGCM.generate_key(bit_length=256), self.keyring.current))
        return self._unwrap(wk)

    def has_key(self, person_id: str) -> bool:
        return self.key_store.get(person_id) is not None

    # ------------------------------------------------------------------ values
    @staticmethod
    def _aad(person_id: str, table: str, column: str, row_id: str) -> bytes:
        return b"fitloop-vault-v1" + _lp(person_id, table, column, str(row_id))

    def encrypt(self, person_id: str, table: str, column: str, row_id: str, plaintext: bytes | str) -> bytes:
        """Ciphertext of ``plaintext`` bound to (person, table, column, row)."""
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else bytes(plaintext)
        key = self._data_key(person_id, create=True)
        nonce = os.urandom(_NONCE)
        return bytes([_FORMAT]) + nonce + AESGCM(key).encrypt(nonce, data, self._aad(person_id, table, column, row_id))

    def decrypt(self, person_id: str, table: str, column: str, row_id: str, ciphertext: bytes) -> bytes:
        """The plaintext, or :class:`DataKeyErased` / :class:`VaultError` (moved, altered, unknown format)."""
        if len(ciphertext) < 1 + _NONCE + 16 or ciphertext[0] != _FORMAT:
            raise VaultError("not a fitloop vault ciphertext (unknown format byte or truncated)",
                             code="ciphertext_invalid")
        key = self._data_key(person_id, create=False)
        nonce, body = ciphertext[1:1 + _NONCE], ciphertext[1 + _NONCE:]
        try:
            return AESGCM(key).decrypt(nonce, body, self._aad(person_id, table, column, row_id))
        except InvalidTag:
            raise VaultError("ciphertext does not belong to this person/table/column/row, or was altered",
                             code="ciphertext_invalid") from None

    def decrypt_str(self, person_id: str, table: str, column: str, row_id: str, ciphertext: bytes) -> str:
        return self.decrypt(person_id, table, column, row_id, ciphertext).decode("utf-8")

    # ------------------------------------------------------------------ rotation and erasure
    def rewrap_all(self) -> int:
        """Rewrap every data key not under the current master version; returns how many.

        Safe to run while the shop serves traffic: a data key never changes, only its wrapping.
        """
        n = 0
        for wk in self.key_store.iter():
            if wk.master_version == self.keyring.current:
                continue
            self.key_store.put(self._wrap(wk.person_id, self._unwrap(wk), self.keyring.current))
            n += 1
        return n

    def versions_in_use(self) -> dict[int, int]:
        """master version → number of data keys wrapped with it (remove a version only at 0)."""
        return dict(Counter(wk.master_version for wk in self.key_store.iter()))

    def forget(self, person_id: str) -> bool:
        """Crypto-shred: delete the person's data key. True if one existed."""
        return self.key_store.delete(person_id)
