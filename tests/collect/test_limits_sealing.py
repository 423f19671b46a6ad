"""Size limits and the sealing of quarantined payloads."""

from __future__ import annotations

import pytest

from fitloop.collect import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    SealError,
    check_batch_size,
    check_event_size,
    derive_key,
    seal,
    unseal,
)
from fitloop.errors import PayloadTooLarge

KEY = "k" * 40


def test_limits_are_segments() -> None:
    assert (MAX_EVENT_BYTES, MAX_BATCH_BYTES) == (32 * 1024, 500 * 1024)
    check_event_size(MAX_EVENT_BYTES)
    check_batch_size(MAX_BATCH_BYTES)
    with pytest.raises(PayloadTooLarge) as info:
        check_event_size(MAX_EVENT_BYTES + 1)
    assert info.value.code == "event_too_large" and info.value.http_status == 413
    with pytest.raises(PayloadTooLarge) as info:
        check_batch_size(MAX_BATCH_BYTES + 1)
    assert info.value.code == "batch_too_large"


def test_seal_round_trip_and_tamper_detection() -> None:
    key = derive_key(KEY, "quarantine")
    blob = seal(key, b'{"email": "a@b.c"}', aad=b"shop")
    assert b"a@b.c" not in blob
    assert unseal(key, blob, aad=b"shop") == b'{"email": "a@b.c"}'
    with pytest.raises(SealError) as info:
        unseal(key, blob, aad=b"other-shop")
    assert info.value.code == "seal_tampered"
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(SealError):
        unseal(key, flipped, aad=b"shop")
    with pytest.raises(SealError) as info:
        unseal(derive_key("z" * 40, "quarantine"), blob, aad=b"shop")
    assert info.value.code == "seal_other_key"


def test_keys_differ_by_purpose_and_rotation_spec_uses_current() -> None:
    assert derive_key(KEY, "quarantine") != derive_key(KEY, "source-hmac")
    assert derive_key(f"v2:{KEY},v1:{'o' * 40}", "quarantine") == derive_key(KEY, "quarantine")
