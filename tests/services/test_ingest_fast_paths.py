"""The shortcuts on the ingest hot path keep the results of the code they replace.

orjson parsing with the standard library's results and errors, the flat-schema property dump, the
pseudonymised copy built field by field, the publisher's batched hand-over, and the interpreter tuning
of ``fitloop serve`` (docs/benchmarks/ingest.md).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from fitloop.collect import normalise
from fitloop.collect.schemas import _NESTED, CATALOGUE, validate_properties
from fitloop.data import Event, EventType, fastjson
from fitloop.errors import InvalidInput
from fitloop.services.ingest import IngestService
from fitloop.services.pseudonyms import pseudonymise_normalised
from fitloop.services.writer import BatchWriter


@pytest.mark.parametrize("body", [
    b'{"batch": [{"a": 1, "b": [1.5, "x", null, true]}]}',
    b'{"n": NaN, "i": -Infinity}',                 # the standard library's extensions
    b'{"big": 123456789012345678901234567890}',    # beyond 64 bits
    '{"u": "\u00e9\u20ac"}'.encode("utf-16"),       # json.loads detects UTF-16
    b'  [1, 2, 3]  ',
])
def test_fast_loads_gives_the_standard_librarys_result(body: bytes) -> None:
    assert repr(fastjson.loads(body)) == repr(json.loads(body))


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": }', b"\xff\xfe\x00", b"[1, 2"])
def test_fast_loads_raises_what_the_standard_library_raises(body: bytes) -> None:
    with pytest.raises(ValueError) as std:
        json.loads(body)
    with pytest.raises(ValueError) as fast:
        fastjson.loads(body)
    assert type(fast.value) is type(std.value) and str(fast.value) == str(std.value)


def test_parse_body_still_answers_invalid_json_with_a_reason() -> None:
    with pytest.raises(InvalidInput) as exc:
        IngestService.parse_body(b'{"batch": [')
    assert exc.value.code == "invalid_json" and "not valid JSON" in exc.value.message


def test_fast_dumps_reads_back_like_json_dumps() -> None:
    doc: dict[Any, Any] = {"a": [1, 2.5, None, True, "é"], "b": {"c": 0.1 + 0.2}, 3: "int key", "big": 2**80}
    assert json.loads(fastjson.dumps(doc)) == json.loads(json.dumps(doc))
    with pytest.raises(TypeError):
        fastjson.dumps({"when": datetime.now(UTC)})  # as json.dumps: not silently turned into a string


_SAMPLES: dict[str, list[dict[str, Any]]] = {
    "ProductProps": [{"product_id": " sku-1 ", "price": 19, "position": 3.0, "colour_mood": "x", "size": None},
                     {"item_id": "a", "category": "tops", "list_id": "home", "slot": "s", "policy_version": "v"}],
    "ImpressionProps": [{"item_id": "a", "propensity": 0.25, "visible_ms": 1200, "extra": {"x": 1}}],
    "DwellProps": [{"item_id": "a", "ms": 3000, "surface": "detail"}],
    "ScrollProps": [{"depth_pct": 55, "path": "/p"}],
    "CartProps": [{"item_id": "a", "quantity": 2, "currency": "EUR", "price": "12.5"}],
    "ReturnProps": [{"item_id": "a", "reason": "too_small", "order_id": "o1", "quantity": 1}],
    "SearchProps": [{"query": " red dress ", "filters": {"size": "M"}, "results_count": 0}],
    "SocialProps": [{"action": "like", "content_id": "c", "content_type": "buyer_show", "item_ids": ["a"],
                     "style_tags": ["boho"], "comment": None}],
    "PhotoProps": [{"photo_id": "img-1", "fit_feedback": "too_large", "caption": "hi"}],
    "PageProps": [{"path": "/", "title": "Home", "utm_source": "x", "unknown": 1}],
    "IdentifyTraits": [{"city": "Lyon", "birth_year": 1990, "email": "a@b"}],
}


def test_flat_schemas_dump_exactly_like_pydantic() -> None:
    seen = set()
    for et, versions in CATALOGUE.items():
        for model in versions.values():
            if model in _NESTED:
                continue
            for sample in _SAMPLES[model.__name__]:
                seen.add(model.__name__)
                props, undeclared = validate_properties(et, sample)
                obj = model.model_validate(sample)
                assert props == obj.model_dump(mode="json", exclude_none=True, exclude=set(obj.model_extra or ()))
                assert undeclared == tuple(obj.model_extra or ())
    assert seen == set(_SAMPLES)


def test_pseudonymised_copy_keeps_every_field() -> None:
    n = normalise({"type": "track", "event": "Order Completed", "messageId": "m1", "userId": "u1", "anonymousId": "a1",
                   "properties": {"order_id": "o1", "lines": [{"item_id": "i", "price": 10, "size": "M",
                                                               "quantity": 2}]}},
                  source="web", received_at=datetime(2025, 1, 1, tzinfo=UTC))
    p = pseudonymise_normalised(n, lambda raw: f"p_{raw}")
    for before, after in zip(n.events, p.events, strict=True):
        for f in dataclasses.fields(Event):
            want = {"user_id": "p_u1", "anonymous_id": "p_a1"}.get(f.name, getattr(before, f.name))
            assert getattr(after, f.name) == want, f.name
    assert p.link == ("p_a1", "p_u1")
    assert [getattr(p, f.name) for f in dataclasses.fields(p) if f.name not in ("events", "link")] == \
        [getattr(n, f.name) for f in dataclasses.fields(n) if f.name not in ("events", "link")]


def test_publisher_keeps_the_order_of_single_and_batched_items() -> None:
    seen: list[int] = []
    w: BatchWriter[int] = BatchWriter(seen.extend, max_batch=3, max_delay_s=0.01)
    w.start()
    w.put(1)
    w.put_many([2, 3, 4, 5])
    w.put_many([])
    w.put(6)
    w.close()
    assert seen == [1, 2, 3, 4, 5, 6]


def test_serve_tunes_the_interpreter_after_start_up() -> None:
    code = ("import gc, sys; from fitloop.cli.server import tune_interpreter_for_serving, SERVING_GC_THRESHOLDS; "
            "tune_interpreter_for_serving(); "
            "print(gc.get_freeze_count() > 1000, gc.get_threshold() == SERVING_GC_THRESHOLDS, sys.getswitchinterval())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.split() == ["True", "True", "0.0005"]


def test_order_lines_still_go_through_the_full_dump() -> None:
    props, undeclared = validate_properties(EventType.ORDER_COMPLETED, {
        "order_id": "o", "lines": [{"item_id": "i", "price": 5, "colour": "red"}], "total": 5})
    assert props == {"order_id": "o", "total": 5.0,
                     "lines": [{"item_id": "i", "quantity": 1, "price": 5.0, "discount": 0.0}]}
    assert undeclared == ("lines.0.colour",)
