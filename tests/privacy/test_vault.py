from __future__ import annotations

import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitloop.errors import ConfigError
from fitloop.privacy.vault import (
    DataKeyErased,
    DataKeyStore,
    InMemoryDataKeyStore,
    MasterKeyring,
    Vault,
    VaultError,
    WrappedKey,
)

V1, V2 = os.urandom(32), os.urandom(32)


def make_vault() -> Vault:
    return Vault(MasterKeyring({1: V1}, current=1), InMemoryDataKeyStore())


def test_in_memory_store_satisfies_the_protocol() -> None:
    assert isinstance(InMemoryDataKeyStore(), DataKeyStore)


@settings(max_examples=50, deadline=None)
@given(plaintext=st.text(max_size=200), row=st.text(min_size=1, max_size=20))
def test_roundtrip(plaintext: str, row: str) -> None:
    vault = make_vault()
    ct = vault.encrypt("p1", "identity", "email", row, plaintext)
    assert len(plaintext) < 8 or plaintext.encode() not in ct
    assert vault.decrypt_str("p1", "identity", "email", row, ct) == plaintext


def test_same_plaintext_encrypts_differently() -> None:
    vault = make_vault()
    a = vault.encrypt("p1", "identity", "email", "r1", "x@y.cn")
    b = vault.encrypt("p1", "identity", "email", "r1", "x@y.cn")
    assert a != b and a[0] == 1


@pytest.mark.parametrize(
    "moved",
    [("p1", "identity", "email", "r2"),  # another row
     ("p1", "identity", "phone", "r1"),  # another column
     ("p1", "orders", "email", "r1"),  # another table
     ("p2", "identity", "email", "r1")],  # another person (who has a key too)
)
def test_ciphertext_is_bound_to_person_table_column_and_row(moved: tuple[str, str, str, str]) -> None:
    vault = make_vault()
    ct = vault.encrypt("p1", "identity", "email", "r1", "anna@example.com")
    vault.encrypt("p2", "identity", "email", "r9", "other@example.com")
    with pytest.raises(VaultError, match="does not belong") as err:
        vault.decrypt(*moved, ct)
    assert err.value.code == "ciphertext_invalid"


def test_tampered_or_foreign_ciphertext_is_refused() -> None:
    vault = make_vault()
    ct = bytearray(vault.encrypt("p1", "t", "c", "r", "secret"))
    ct[-1] ^= 1
    with pytest.raises(VaultError):
        vault.decrypt("p1", "t", "c", "r", bytes(ct))
    with pytest.raises(VaultError, match="format"):
        vault.decrypt("p1", "t", "c", "r", b"\x07" + bytes(40))


def test_rotation_rewrap_and_retiring_the_old_master_key() -> None:
    store = InMemoryDataKeyStore()
    v1 = Vault(MasterKeyring({1: V1}, current=1), store)
    cts = {p: v1.encrypt(p, "identity", "email", "r", f"{p}@example.com") for p in ("a", "b", "c")}
    assert v1.versions_in_use() == {1: 3}
    # v2 becomes current; old keys keep working before any rewrap (no downtime)
    v2 = Vault(v1.keyring.with_key(2, V2), store)
    assert v2.decrypt_str("a", "identity", "email", "r", cts["a"]) == "a@example.com"
    new = v2.encrypt("d", "identity", "email", "r", "d@example.com")
    assert store.get("d").master_version == 2  # type: ignore[union-attr]
    assert v2.rewrap_all() == 3 and v2.versions_in_use() == {2: 4}
    assert v2.rewrap_all() == 0
    # v1 removed: everything still decrypts, data rows were never touched
    v2_only = Vault(v2.keyring.without(1), store)
    for p, ct in cts.items():
        assert v2_only.decrypt_str(p, "identity", "email", "r", ct) == f"{p}@example.com"
    assert v2_only.decrypt_str("d", "identity", "email", "r", new) == "d@example.com"


def test_removing_a_master_key_too_early_says_what_to_do() -> None:
    store = InMemoryDataKeyStore()
    v1 = Vault(MasterKeyring({1: V1}, current=1), store)
    ct = v1.encrypt("a", "t", "c", "r", "x")
    v2_only = Vault(MasterKeyring({2: V2}, current=2), store)
    with pytest.raises(VaultError, match="rewrap_all"):
        v2_only.decrypt("a", "t", "c", "r", ct)


def test_forget_makes_every_copy_unreadable() -> None:
    vault = make_vault()
    ct = vault.encrypt("p1", "identity", "email", "r1", "anna@example.com")
    backup = bytes(ct)  # a copy in a backup
    other = vault.encrypt("p2", "identity", "email", "r2", "ben@example.com")
    assert vault.forget("p1") and not vault.has_key("p1")
    for blob in (ct, backup):
        with pytest.raises(DataKeyErased):
            vault.decrypt("p1", "identity", "email", "r1", blob)
    assert vault.decrypt_str("p2", "identity", "email", "r2", other) == "ben@example.com"
    assert vault.forget("p1") is False
    # a new key for the same person does not resurrect old data
    vault.encrypt("p1", "identity", "email", "r3", "new")
    with pytest.raises(VaultError):
        vault.decrypt("p1", "identity", "email", "r1", ct)


def test_wrapped_key_cannot_be_swapped_between_people() -> None:
    store = InMemoryDataKeyStore()
    vault = Vault(MasterKeyring({1: V1}, current=1), store)
    vault.encrypt("a", "t", "c", "r", "x")
    vault.encrypt("b", "t", "c", "r", "y")
    wk_a = store.get("a")
    assert wk_a is not None
    store.put(WrappedKey("b", wk_a.master_version, wk_a.wrapped))
    with pytest.raises(VaultError, match="does not open"):
        vault.decrypt("b", "t", "c", "r", b"\x01" + bytes(40))


def test_concurrent_first_use_yields_one_data_key() -> None:
    vault = make_vault()
    out: list[bytes] = []
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        barrier.wait()
        out.append(vault.encrypt("p", "t", "c", str(i), f"v{i}"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # had two threads each created a data key, one of them would have lost its ciphertexts
    assert len(out) == 8
    for i in range(8):
        matching = [ct for ct in out if _try(vault, str(i), ct) == f"v{i}"]
        assert len(matching) == 1


def _try(vault: Vault, row: str, ct: bytes) -> str | None:
    try:
        return vault.decrypt_str("p", "t", "c", row, ct)
    except VaultError:
        return None


def test_keyring_parsing() -> None:
    ring = MasterKeyring.parse("v3:" + "a" * 40 + ", v2:" + "b" * 40)
    assert ring.current == 3 and ring.versions == (2, 3)
    assert ring.key(2) != ring.key(3) and len(ring.key(3)) == 32
    assert MasterKeyring.parse("c" * 43).versions == (1,)
    for bad, match in [("", "empty"), ("v1:short", "too short"), ("v1:" + "a" * 40 + ",v1:" + "b" * 40, "twice")]:
        with pytest.raises(ConfigError, match=match):
            MasterKeyring.parse(bad)
    with pytest.raises(ConfigError, match="32 bytes"):
        MasterKeyring({1: b"short"}, current=1)
    with pytest.raises(ConfigError, match="not in the keyring"):
        MasterKeyring({1: V1}, current=2)
