"""The consent-cache proofs (tests/services/test_consent_cache.py) on the real PostgreSQL of this machine.

PostgreSQL draws the ledger's ``seq`` before commit, unlike SQLite, so ``UserStore.consent_changes``
has its own path there (it re-reads the last entries below the mark); these run the same cases on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from fitloop.config import Settings
from fitloop.store import Stores
from fitloop.store.sql import make_engine, upgrade
from fitloop.store.sql.schema import metadata
from fitloop.wiring import build_stores
from tests.services.test_consent_cache import (  # noqa: F401 - collected here, run against PostgreSQL
    test_a_ledger_is_read_once_not_once_per_check,
    test_a_withdrawal_in_another_process_is_honoured_within_the_check_interval,
    test_a_withdrawal_in_this_process_takes_effect_at_once,
    test_an_erasure_in_another_process_drops_cached_ledgers,
    test_stores_written_directly_are_seen_too,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def stores(pg_url: str, tmp_path: Path) -> Iterator[Stores]:
    engine = make_engine(pg_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)} RESTART IDENTITY"))
    engine.dispose()
    s = build_stores(Settings(data_dir=tmp_path, database_url=pg_url, demo=True))
    yield s
    s.close()


def test_the_change_mark_names_new_ledger_entries(stores: Stores) -> None:
    from datetime import UTC, datetime

    from fitloop.data import Consent

    mark, users = stores.users.consent_changes(None)
    assert users == []
    stores.users.append_consents([Consent("u1", "analytics", 1, True, datetime.now(UTC), "test"),
                                  Consent("u2", "analytics", 1, True, datetime.now(UTC), "test")])
    new_mark, entries = stores.users.consent_changes(mark)
    assert new_mark >= mark + 2 and entries is not None and {u for _, u in entries} == {"u1", "u2"}
    # PostgreSQL lists the last entries below the mark again (late commits); a reader skips seen seq values.
    again = stores.users.consent_changes(new_mark)
    assert again[0] == new_mark and {seq for seq, _ in again[1] or []} <= {seq for seq, _ in entries}
    assert stores.users.consent_changes(mark, limit=1)[1] is None  # over the limit: forget everything


def test_a_withdrawal_that_commits_late_is_still_seen(pg_url: str, stores: Stores) -> None:
    # PostgreSQL hands out seq at INSERT, not at COMMIT: a slow transaction's entry can appear below a
    # mark that a reader already passed. The re-listed window must catch it and drop the cached ledger.
    from datetime import UTC, datetime

    from fitloop.data import Consent
    from fitloop.store.sql.schema import consents
    from tests.services.test_consent_cache import _service, _until

    serving = _service(stores, check_s=0.05)
    stores.users.append_consents([Consent("slow", "personalisation", 1, True, datetime.now(UTC), "test")])
    assert serving.personalised("slow")  # cached now
    engine = make_engine(pg_url)
    try:
        with engine.connect() as slow:
            tx = slow.begin()
            slow.execute(consents.insert(), [{"user_id": "slow", "purpose": "personalisation", "version": 1,
                                              "granted": False, "ts": datetime.now(UTC), "source": "test"}])
            # Another shopper's entry commits after the slow one drew its seq; readers move past both.
            stores.users.append_consents([Consent("fast", "analytics", 1, True, datetime.now(UTC), "test")])
            time.sleep(0.15)
            assert serving.personalised("slow")  # the withdrawal is not committed yet
            tx.commit()
        _until(lambda: not serving.personalised("slow"), timeout_s=2.0)
    finally:
        engine.dispose()
