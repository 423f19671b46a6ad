"""Consent decisions are cached per shopper, and the cache never outlives a decision.

Serving asks ``PrivacyService.personalised`` on every request; the ledger is read from the store
once per shopper, then only again when the store's change mark says it grew (checked at most once
per ``consent_cache_s``), when this process records a decision (at once), or after an erasure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from fitloop.data import Consent
from fitloop.services.erasure import DataSubjectService
from fitloop.services.privacy import ConsentCache, PrivacyConfig, PrivacyService
from fitloop.store import Stores


def _service(stores: Stores, check_s: float = 0.1, *, demo: bool = False) -> PrivacyService:
    return PrivacyService(stores, secret_key="s" * 32, master_key="m" * 32, pseudonym_key="p" * 32, demo=demo,
                          config=PrivacyConfig(consent_cache_s=check_s))


def _count_reads(stores: Stores) -> list[str]:
    reads: list[str] = []
    original = stores.users.consents

    def counting(user_id: str) -> list[Consent]:
        reads.append(user_id)
        return original(user_id)

    stores.users.consents = counting  # type: ignore[method-assign]
    return reads


def _until(check: Callable[[], bool], timeout_s: float) -> float:
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < timeout_s, f"not within {timeout_s} s"
        time.sleep(0.01)
    return time.monotonic() - t0


def test_a_ledger_is_read_once_not_once_per_check(stores: Stores) -> None:
    pv = _service(stores, check_s=0.05)
    pv.record_consent("u1", {"personalisation": True})
    reads = _count_reads(stores)
    for _ in range(5):
        assert pv.personalised("u1") and not pv.personalised("u2")
        time.sleep(0.06)  # a check of the change mark between every two calls
    # u1 once more after the first check: its ledger grew after the mark that check started from.
    assert sorted(reads) == ["u1", "u2"]


def test_a_withdrawal_in_this_process_takes_effect_at_once(stores: Stores) -> None:
    pv = _service(stores, check_s=60.0)  # no check of the mark can help within this test
    pv.record_consent("u1", {"personalisation": True})
    assert pv.personalised("u1")
    pv.withdraw("u1", ["personalisation"])
    assert not pv.personalised("u1")
    pv.record_consent("u1", {"personalisation": True})
    assert pv.personalised("u1")
    pv.record_consent("u1", {"personalisation": False})
    assert not pv.personalised("u1")


def test_a_withdrawal_in_another_process_is_honoured_within_the_check_interval(stores: Stores) -> None:
    serving, other = _service(stores, check_s=0.2), _service(stores, check_s=0.2)
    other.record_consent("u1", {"personalisation": True, "analytics": True})
    assert serving.personalised("u1")  # cached now
    reads = _count_reads(stores)
    other.withdraw("u1", ["personalisation"])
    waited = _until(lambda: not serving.personalised("u1"), timeout_s=2.0)
    assert waited < 1.0
    assert reads == ["u1"]  # the one shopper whose ledger changed was read again, nobody else
    assert "analytics" in serving.allowed_purposes("u1") and "personalisation" not in serving.allowed_purposes("u1")


def test_stores_written_directly_are_seen_too(stores: Stores) -> None:
    # Not only PrivacyService writes ledgers (the console demo appends simulated decisions in bulk).
    pv = _service(stores, check_s=0.1)
    assert not pv.personalised("u9")
    stores.users.append_consents([Consent("u9", "personalisation", 1, True, datetime.now(UTC), "import")])
    _until(lambda: pv.personalised("u9"), timeout_s=2.0)


def test_an_erasure_in_another_process_drops_cached_ledgers(stores: Stores) -> None:
    serving, other = _service(stores, check_s=0.1), _service(stores, check_s=0.1)
    other.record_consent("u1", {"analytics": True})
    assert "analytics" in serving.allowed_purposes("u1")  # cached now
    DataSubjectService(stores, other).erase("u1")
    # An erasure deletes the ledger: no new entry for the change mark, so the erasure record clears the cache.
    _until(lambda: "analytics" not in serving.allowed_purposes("u1"), timeout_s=2.0)
    assert not serving.personalised("u1")


def test_a_read_that_straddles_a_drop_is_not_cached() -> None:
    cache = ConsentCache(lambda after: (0, []), check_s=60.0)
    stamp = cache.stamp()
    cache.drop("u1")  # e.g. this process recorded u1's withdrawal while a request was reading u1's ledger
    cache.put("u1", ("granted",), since=stamp)
    assert cache.get("u1") is None
    cache.put("u1", ("withdrawn",), since=cache.stamp())
    assert cache.get("u1") == ("withdrawn",)


def test_without_a_change_mark_entries_expire_after_the_check_interval() -> None:
    cache = ConsentCache(None, check_s=0.05)
    cache.put("u1", "x", since=cache.stamp())
    assert cache.get("u1") == "x"
    time.sleep(0.07)
    assert cache.get("u1") is None


def test_a_failing_change_mark_drops_everything() -> None:
    calls = {"n": 0}

    def changes(after: int | None) -> tuple[int, list[str] | None]:
        calls["n"] += 1
        if calls["n"] > 1:
            raise ConnectionError("database away")
        return 5, []

    cache = ConsentCache(changes, check_s=0.01)
    cache.put("u1", "x", since=cache.stamp())
    cache.get("u1")  # first check: nothing cached could be vouched for
    cache.put("u1", "x", since=cache.stamp())
    assert cache.get("u1") == "x"
    time.sleep(0.02)
    assert cache.get("u1") is None


def test_consent_changes_names_the_shoppers_after_a_mark(stores: Stores) -> None:
    now = datetime.now(UTC)
    users = stores.users
    assert users.consent_changes(None) == (0, [])
    users.append_consents([Consent("a", "analytics", 1, True, now, "t"), Consent("b", "analytics", 1, True, now, "t")])
    mark, names = users.consent_changes(None)
    assert names == [] and mark > 0
    assert users.consent_changes(mark) == (mark, [])
    users.append_consents([Consent("c", "analytics", 1, True, now, "t"), Consent("a", "analytics", 1, False, now, "t")])
    new_mark, entries = users.consent_changes(mark)
    assert new_mark > mark and entries is not None and [u for _, u in entries] == ["c", "a"]
    assert [seq for seq, _ in entries] == sorted(seq for seq, _ in entries) and entries[-1][0] == new_mark
    assert users.consent_changes(0, limit=2)[1] is None  # too many to list: forget everything


@pytest.mark.parametrize("demo", [False, True])
def test_demo_shoppers_without_a_ledger_are_cached_as_such(stores: Stores, demo: bool) -> None:
    pv = _service(stores, check_s=0.05, demo=demo)
    reads = _count_reads(stores)
    assert [pv.personalised("new") for _ in range(3)] == [demo] * 3
    assert reads == ["new"]
