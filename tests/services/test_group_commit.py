"""Group commit on a real SQLite store: grouping, exactly-once, 503 on disk full, recovery, poison isolation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fitloop.data import Event, EventType
from fitloop.errors import StoreError, StoreUnavailable
from fitloop.services.group_commit import GroupCommitter
from fitloop.store import Stores
from tests.services._ingest_fixtures import disk_full

T = datetime(2025, 1, 1, tzinfo=UTC)


def ev(i: int | str, **kw: object) -> Event:
    return Event(f"s:{i}", EventType.PRODUCT_VIEWED, "u1", T, item_id="i1", source="s", **kw)  # type: ignore[arg-type]


@pytest.fixture
def committer(stores: Stores) -> Iterator[GroupCommitter]:
    assert stores.ingest is not None
    gc = GroupCommitter(stores.ingest.commit, max_events=2000)
    gc.start()
    yield gc
    gc.stop()


def test_concurrent_requests_are_grouped_and_stored_once(stores: Stores, committer: GroupCommitter) -> None:
    results = []
    lock = threading.Lock()

    def client(c: int) -> None:
        for r in range(25):
            # every request is sent twice (a retry after a lost acknowledgement)
            for _ in range(2):
                res = committer.submit_wait([ev(f"{c}-{r}-{k}") for k in range(10)], [], [])
                with lock:
                    results.append(res)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stores.events.count() == 8 * 25 * 10
    assert sum(r.inserted for r in results) == 2000 and sum(r.duplicates for r in results) == 2000
    assert committer.groups < len(results)  # concurrent requests shared transactions


def test_disk_full_answers_503_and_recovers(stores: Stores, committer: GroupCommitter) -> None:
    committer.submit_wait([ev(0)], [], [])
    big = [ev(i, properties={"pad": "x" * 2000}) for i in range(1, 300)]
    with disk_full(stores):
        with pytest.raises(StoreUnavailable) as info:
            committer.submit_wait(big, [], [])
        assert info.value.code == "store_disk_full" and info.value.retry_after_s > 0
        assert committer.running  # the writer survived
    res = committer.submit_wait(big, [], [])  # space is back: the retry succeeds, nothing twice
    assert res.inserted == 299 and stores.events.count() == 300


def test_a_poisonous_request_does_not_fail_its_group(stores: Stores) -> None:
    assert stores.ingest is not None
    gate = threading.Event()

    def slow_commit(*args: object, **kw: object):  # type: ignore[no-untyped-def]
        gate.wait(5)  # hold the first group so the next requests queue up together
        return stores.ingest.commit(*args, **kw)  # type: ignore[union-attr,arg-type]

    gc = GroupCommitter(slow_commit)
    gc.start()
    out: dict[str, object] = {}

    def send(name: str, events: list[Event]) -> None:
        try:
            out[name] = gc.submit_wait(events, [], [])
        except Exception as exc:  # noqa: BLE001
            out[name] = exc

    first = threading.Thread(target=send, args=("first", [ev("a")]))
    first.start()
    threads = [threading.Thread(target=send, args=("good", [ev("b")])),
               threading.Thread(target=send, args=("bad", [ev("c", properties={"not_json": {1, 2}})])),
               threading.Thread(target=send, args=("good2", [ev("d")]))]
    for t in threads:
        t.start()
    gate.set()
    for t in [first, *threads]:
        t.join()
    gc.stop()
    assert isinstance(out["bad"], StoreError)
    assert {k for k, v in out.items() if not isinstance(v, Exception)} == {"first", "good", "good2"}
    assert {e.event_id for e in stores.events.scan()} == {"s:a", "s:b", "s:d"}


def test_not_running_and_overload_answer_503(stores: Stores) -> None:
    assert stores.ingest is not None
    gc = GroupCommitter(stores.ingest.commit, max_pending_events=5)
    with pytest.raises(StoreUnavailable) as info:
        gc.submit_wait([ev(1)], [], [])
    assert info.value.code == "writer_unavailable"
    hold = threading.Event()

    def blocked(*a: object, **k: object):  # type: ignore[no-untyped-def]
        hold.wait(5)
        return stores.ingest.commit(*a, **k)  # type: ignore[union-attr,arg-type]

    gc = GroupCommitter(blocked, max_pending_events=5)
    gc.start()
    gc.submit([ev(1)], [], [], lambda r: None)  # taken by the writer, which now blocks
    import time

    time.sleep(0.1)
    gc.submit([ev(i) for i in range(2, 6)], [], [], lambda r: None)
    with pytest.raises(StoreUnavailable) as info:
        gc.submit([ev(i) for i in range(6, 10)], [], [], lambda r: None)
    assert info.value.code == "overloaded"
    hold.set()
    gc.stop()
    assert stores.events.count() == 5  # stop drains what was accepted
