"""Keyed pseudonyms for behaviour data (tier L3).

A pseudonym is ``HMAC-SHA256(key, shopper id)``: stable (the same shopper always
maps to the same pseudonym, so behaviour can be joined), not reversible without
the key, and not guessable by hashing candidate ids (a plain hash would be).

Key rotation. The pseudonym carries its key version (``p1_…``). To rotate:

1. configure the new key as version ``n+1`` next to the old one;
2. a background job walks the identity table (L1, which holds the real ids),
   computes ``old → new`` with :meth:`Pseudonymiser.rekey_map` and rewrites the
   L3 rows in batches; readers accept both versions meanwhile
   (:meth:`Pseudonymiser.pseudonym` for writes, ``matches`` for either);
3. when no ``p<n>_`` rows remain, drop the old key.

Erasing a shopper's identity (and their mapping) leaves L3 rows with a
pseudonym nobody can link back; erasure deletes those rows too.

>>> p = Pseudonymiser(b"k" * 32)
>>> a = p.pseudonym("shopper-42")
>>> a == p.pseudonym("shopper-42"), a.startswith("p1_"), len(a)
(True, True, 35)
>>> p.matches("shopper-42", a)
True
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from fitloop.errors import ConfigError

__all__ = ["Pseudonymiser"]

_MIN_KEY_BYTES = 16


class Pseudonymiser:
    """``Pseudonymiser(key, version=1, length=32)``; ``length`` hex characters of the HMAC are kept."""

    def __init__(self, key: bytes | str, *, version: int = 1, length: int = 32) -> None:
        k = key.encode() if isinstance(key, str) else bytes(key)
        if len(k) < _MIN_KEY_BYTES:
            raise ConfigError(f"pseudonym key must have at least {_MIN_KEY_BYTES} bytes; set FITLOOP_PSEUDONYM_KEY "
                              "to a random value", code="weak_pseudonym_key")
        if not 16 <= length <= 64:
            raise ConfigError("pseudonym length must be between 16 and 64 hex characters", code="invalid_pseudonym")
        self._key = k
        self.version = version
        self.length = length
        self.prefix = f"p{version}_"

    def pseudonym(self, value: str) -> str:
        """The stable pseudonym of ``value`` under this key."""
        digest = hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return self.prefix + digest[: self.length]

    __call__ = pseudonym

    def is_pseudonym(self, value: str) -> bool:
        """True when ``value`` looks like a pseudonym of this key version."""
        rest = value[len(self.prefix):]
        return value.startswith(self.prefix) and len(rest) == self.length and all(c in "0123456789abcdef" for c in rest)

    def matches(self, value: str, pseudonym: str) -> bool:
        """Constant-time check that ``pseudonym`` belongs to ``value``."""
        return hmac.compare_digest(self.pseudonym(value), pseudonym)

    def rekey_map(self, values: Iterable[str], new: Pseudonymiser) -> dict[str, str]:
        """``{old pseudonym: new pseudonym}`` for the real ids ``values`` (rotation job)."""
        return {self.pseudonym(v): new.pseudonym(v) for v in values}
