"""Shopper ids → keyed pseudonyms at every boundary where an id enters fitloop (tier L3).

The stores hold only pseudonyms (``HMAC-SHA256(FITLOOP_PSEUDONYM_KEY, id)``, see
:class:`fitloop.privacy.Pseudonymiser`): events, identity links, consents, users, profiles, impressions,
segments, models, the vault and both quarantines. Services below the boundaries work on pseudonyms
only; each boundary maps what it receives:

* **Collection** (:meth:`fitloop.services.ingest.IngestService.prepare`): ``userId`` and ``anonymousId``
  of every event, both ends of an identity link (``identify`` with both ids, ``alias``) and the
  quarantine's ``user_ref`` — :func:`pseudonymise_normalised`. An ``identify`` that carries a ``userId``
  also hands the raw id to the gate as the L1 field ``customer_id``, which the gate encrypts into the
  identity vault (never into the behaviour log), so an admin or the DPO can go from a pseudonym back
  to the shop's customer id, and erasure crypto-shreds it.
* **Shop-facing HTTP** (consent, recommendations, the demo shop's event list): the caller sends its own
  id and the server *always* pseudonymises it. There is no "already a pseudonym" shortcut there:
  otherwise a browser could replay a pseudonym seen elsewhere and act as that shopper.
* **Operators** (console, CLI, the admin-token endpoints): :func:`resolve_operator_input` — an exact
  pseudonym of the current key (``p1_`` + 32 hex) is used as is, anything else is a raw customer id and
  is pseudonymised. Operators work from pseudonyms (segment member lists, the console) *and* from
  customer ids (a data-subject request), and the admin token already grants access to everyone's data.
* **Imports** (:func:`fitloop.services.shop_loader.load_shop`, the demo): users and events through
  :func:`pseudonymise_event`.

The HMAC costs about 1.5 µs; :class:`CachedPseudonyms` keeps the most recent ids in an LRU cache, since a
shopper's events arrive in bursts.

>>> from fitloop.privacy import Pseudonymiser
>>> ids = CachedPseudonyms(Pseudonymiser(b"k" * 32))
>>> p = ids("shopper-42")
>>> p == ids("shopper-42"), ids.is_pseudonym(p), ids.is_pseudonym("shopper-42")
(True, True, False)
>>> resolve_operator_input(p, ids) == p, resolve_operator_input(" shopper-42 ", ids) == p
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from fitloop.collect import Normalised
from fitloop.data import Event, EventType, User
from fitloop.errors import InvalidInput
from fitloop.privacy import Pseudonymiser

__all__ = ["CachedPseudonyms", "CUSTOMER_ID_FIELD", "MAX_ID_LENGTH", "pseudonymise_event", "pseudonymise_normalised",
           "pseudonymise_users", "resolve_operator_input"]

#: The L1 field that keeps the shop's own customer id, encrypted in the identity vault.
CUSTOMER_ID_FIELD = "customer_id"
#: Shopper ids (raw or pseudonymous) are at most this long, as everywhere in the API.
MAX_ID_LENGTH = 128
_CACHE_SIZE = 100_000


class CachedPseudonyms:
    """``ids(raw) → pseudonym`` with an LRU cache around the HMAC (thread-safe: ``functools.lru_cache``)."""

    def __init__(self, pseudonymiser: Pseudonymiser, *, cache_size: int = _CACHE_SIZE) -> None:
        self.pseudonymiser = pseudonymiser
        self._cached: Callable[[str], str] = lru_cache(maxsize=cache_size)(pseudonymiser.pseudonym)

    def __call__(self, raw: str) -> str:
        """The pseudonym of the shop's id ``raw`` (never checks whether ``raw`` already is one)."""
        return self._cached(raw)

    def is_pseudonym(self, value: str) -> bool:
        """True for exactly a pseudonym of the current key version (``p1_`` + 32 lowercase hex)."""
        return self.pseudonymiser.is_pseudonym(value)


def resolve_operator_input(value: str, ids: CachedPseudonyms) -> str:
    """The stored id for what an operator typed or pasted: a pseudonym as is, a customer id pseudonymised.

    Surrounding blanks (from copy and paste) are ignored. Empty or over-long input is refused with a
    message that says what to paste.
    """
    v = (value or "").strip()
    if not v or len(v) > MAX_ID_LENGTH:
        raise InvalidInput(f"a shopper id is 1 to {MAX_ID_LENGTH} characters: paste a pseudonym "
                           f"({ids.pseudonymiser.prefix}…) or the shop's customer id", code="invalid_user_id")
    return v if ids.is_pseudonym(v) else ids(v)


def pseudonymise_event(ev: Event, ids: Callable[[str], str]) -> Event:
    """``ev`` with its shopper and anonymous ids replaced by their pseudonyms."""
    anon = ev.anonymous_id
    return _event_with(ev, ids(ev.user_id), None if anon is None else ids(anon), ev.properties)


def pseudonymise_normalised(n: Normalised, ids: Callable[[str], str]) -> Normalised:
    """One normalised message with every id pseudonymised; an ``identify`` with a ``userId`` carries the raw id
    as :data:`CUSTOMER_ID_FIELD` for the gate to encrypt into the vault.

    ``normalise`` sets ``user_id`` to ``userId`` or else ``anonymousId``, so an event has a ``userId`` exactly
    when it has no anonymous id or a different one (a message with ``userId == anonymousId`` counts as anonymous).
    """
    events = []
    for ev in n.events:
        anon = ev.anonymous_id
        props = ev.properties
        if ev.type is EventType.IDENTIFY and anon != ev.user_id:
            props = {**props, CUSTOMER_ID_FIELD: ev.user_id}
        events.append(_event_with(ev, ids(ev.user_id), None if anon is None else ids(anon), props))
    link = None if n.link is None else (ids(n.link[0]), ids(n.link[1]))
    # Built field by field rather than with dataclasses.replace, which costs 2 to 3 times as much on the ingest
    # path; tests/privacy/test_pseudonymised_storage.py fails when Event or Normalised gain a field.
    return Normalised(n.message_id, n.type, tuple(events), n.undeclared, link, n.undeclared_values)


def _event_with(ev: Event, user_id: str, anonymous_id: str | None, properties: Mapping[str, Any]) -> Event:
    return Event(ev.event_id, ev.type, user_id, ev.ts, ev.item_id, ev.size, ev.quantity, ev.price, properties,
                 ev.source, anonymous_id)


def pseudonymise_users(users: Iterable[User], ids: Callable[[str], str]) -> Iterator[User]:
    """Imported users under their pseudonyms (their coarse traits are kept as they are)."""
    for u in users:
        yield replace(u, user_id=ids(u.user_id))
