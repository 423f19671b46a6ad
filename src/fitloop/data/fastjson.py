"""JSON decoding on the hot paths (ingest bodies, event properties, profile documents) with orjson.

:func:`loads` parses with orjson (several times faster than the standard library) and falls back to
:func:`json.loads` for what orjson refuses but the standard library accepts (``NaN`` and
``Infinity`` tokens, UTF-16/32 bodies), so the result and the errors are exactly the standard
library's: callers keep catching :class:`ValueError`. Text with a run of 19 or more digits goes to the
standard library directly, because orjson reads integers beyond 64 bits as (rounded) floats.

:func:`dumps` writes compact JSON text with orjson for plain documents (dicts, lists, str, int,
float, bool, None) and uses :func:`json.dumps` for anything else or any value orjson refuses. One
difference remains and is why it is used only where that cannot matter: orjson writes a non-finite
float (NaN, ±Infinity) as ``null`` where :func:`json.dumps` writes the non-standard ``NaN``
(PostgreSQL's JSONB refuses those anyway). Types the standard library cannot write (datetimes,
sets …) still raise :class:`TypeError`.

>>> loads(b'{"a": [1, 2.5, "x"]}')
{'a': [1, 2.5, 'x']}
>>> loads(b'{"id": 123456789012345678901234567890}')   # exact, as json.loads
{'id': 123456789012345678901234567890}
>>> loads('{"n": NaN}')["n"] != loads('{"n": NaN}')["n"]   # stdlib fallback: NaN parses, as before
True
>>> loads("[1, 2") # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
json.decoder.JSONDecodeError: Expecting ',' delimiter: line 1 column 6 (char 5)
>>> dumps({"b": 1, "a": [True, None], 7: 0.1})
'{"b":1,"a":[true,null],"7":0.1}'
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["loads", "dumps"]


# Digits become b"1", everything else b"0": a run of 19 digits is then a plain substring search, both in C
# (a regular expression took ten times as long as orjson's parse of an ingest batch).
_DIGIT_MAP = bytes(0x31 if 0x30 <= i <= 0x39 else 0x30 for i in range(256))
_LONG_RUN = b"1" * 19


def _may_hold_a_huge_int(data: bytes | bytearray | str) -> bool:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return _LONG_RUN in raw.translate(_DIGIT_MAP)


def loads(data: bytes | bytearray | str) -> Any:
    """Parse JSON like :func:`json.loads` (same results, same exceptions), faster for valid input."""
    if _may_hold_a_huge_int(data):  # orjson would round an integer beyond 64 bits to a float
        return json.loads(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # Not necessarily invalid: the standard library also accepts NaN/Infinity, huge integers and
        # UTF-16/32. Let it decide, so that behaviour and error messages are unchanged.
        return json.loads(data)


# Datetimes, dataclasses and subclasses of the JSON types go to the standard library, as before (which
# writes the subclasses and refuses the others), rather than orjson's own encodings of them.
_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def dumps(obj: Any) -> str:
    """Compact JSON text (``separators=(",", ":")``); see the module docstring for non-finite floats."""
    try:
        return orjson.dumps(obj, option=_STRICT).decode()
    except TypeError:  # orjson.JSONEncodeError: a type or value it leaves to us (huge int, non-str key …)
        return json.dumps(obj, separators=(",", ":"))
