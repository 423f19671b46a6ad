"""The data-collection manifest: which purpose may collect which fields, why, for whom, how long.

The manifest is a versioned TOML file in the shop's configuration. Every event
type names the purposes it serves and the property fields it may carry; every
field names its tier and the purposes it serves. Anything not in the manifest
is not collected: :meth:`Manifest.check_event` strips it.

>>> m = default_manifest()
>>> m.purpose_for("search")
'personalisation'
>>> kept, stripped = m.check_event("product_viewed", {"item_id": "sku-1", "phone": "13800138000"})
>>> kept, stripped
({'item_id': 'sku-1'}, {'phone': '13800138000'})
>>> m.purposes["photo_analysis"].sensitive
True
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from fitloop.errors import ConfigError, InvalidInput
from fitloop.privacy.tiers import Tier, parse_tier

__all__ = [
    "LAWFUL_BASES",
    "Purpose",
    "FieldSpec",
    "EventSpec",
    "Manifest",
    "load_manifest",
    "default_manifest",
    "DEFAULT_MANIFEST_RESOURCE",
]

#: GDPR Art. 6(1) bases the manifest may name.
LAWFUL_BASES: Mapping[str, str] = {
    "consent": "Art. 6(1)(a) consent",
    "contract": "Art. 6(1)(b) performance of a contract",
    "legal_obligation": "Art. 6(1)(c) legal obligation",
    "legitimate_interest": "Art. 6(1)(f) legitimate interest",
}

DEFAULT_MANIFEST_RESOURCE = "default_manifest.toml"


@dataclass(frozen=True, slots=True)
class Purpose:
    """One purpose of processing.

    ``version`` grows whenever the purpose text changes. ``reconsent_from`` is
    the oldest purpose version whose consent still covers the current one: a
    shop that materially changes a purpose sets it to the new version, and
    every shopper is asked again.
    """

    name: str
    version: int
    title: str
    why: str
    lawful_basis: str
    retention_days: int
    users: tuple[str, ...] = ()
    owner: str = "dpo"
    recipients: tuple[str, ...] = ()
    sensitive: bool = False
    gpc: bool = False
    reconsent_from: int = 1

    @property
    def needs_consent(self) -> bool:
        return self.lawful_basis == "consent"

    @property
    def text_hash(self) -> str:
        """Fingerprint of what the shopper was told; receipts carry it."""
        text = f"{self.name}|{self.version}|{self.title}|{self.why}|{self.lawful_basis}|{self.retention_days}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A property field: its tier and the purposes it serves."""

    name: str
    tier: Tier
    purposes: tuple[str, ...]
    description: str = ""
    free_text: bool = False


@dataclass(frozen=True, slots=True)
class EventSpec:
    """An event type: the purposes it serves (first = primary) and its allowed fields."""

    event_type: str
    purposes: tuple[str, ...]
    fields: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class Manifest:
    """The parsed, validated manifest. Build it with :func:`load_manifest` or :meth:`from_toml`."""

    version: str
    controller: str
    contact: str
    purposes: Mapping[str, Purpose]
    fields: Mapping[str, FieldSpec]
    events: Mapping[str, EventSpec]
    fingerprint: str = ""
    envelope: tuple[str, ...] = field(default=())

    # ------------------------------------------------------------------ building
    @classmethod
    def from_toml(cls, text: str) -> Manifest:
        """Parse and validate manifest TOML; raises :class:`ConfigError` saying what to fix."""
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"privacy manifest is not valid TOML: {exc}", code="manifest_invalid") from exc
        return cls.from_dict(raw, fingerprint=hashlib.sha256(text.encode()).hexdigest()[:16])

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], fingerprint: str = "") -> Manifest:
        def fail(msg: str) -> ConfigError:
            return ConfigError(f"privacy manifest: {msg}", code="manifest_invalid")

        head = raw.get("manifest", {})
        if "version" not in head:
            raise fail("[manifest] needs a version (e.g. version = \"2026.1\")")
        purposes: dict[str, Purpose] = {}
        for name, p in raw.get("purposes", {}).items():
            try:
                basis = p["lawful_basis"]
                if basis not in LAWFUL_BASES:
                    raise fail(f"purpose {name!r}: lawful_basis {basis!r} is not one of {sorted(LAWFUL_BASES)}")
                version = int(p.get("version", 1))
                reconsent_from = int(p.get("reconsent_from", 1))
                if not 1 <= reconsent_from <= version:
                    raise fail(f"purpose {name!r}: reconsent_from must be between 1 and version ({version})")
                retention = int(p["retention_days"])
                if retention <= 0:
                    raise fail(f"purpose {name!r}: retention_days must be positive")
                purposes[name] = Purpose(
                    name=name, version=version, title=str(p["title"]), why=str(p["why"]), lawful_basis=basis,
                    retention_days=retention, users=tuple(p.get("users", ())), owner=str(p.get("owner", "dpo")),
                    recipients=tuple(p.get("recipients", ())), sensitive=bool(p.get("sensitive", False)),
                    gpc=bool(p.get("gpc", False)), reconsent_from=reconsent_from,
                )
            except KeyError as exc:
                raise fail(f"purpose {name!r} lacks {exc.args[0]!r}") from exc
        if not purposes:
            raise fail("no [purposes.*] tables")
        fields: dict[str, FieldSpec] = {}
        for name, f in raw.get("fields", {}).items():
            fps = tuple(f.get("purposes", ()))
            unknown = [p for p in fps if p not in purposes]
            if not fps or unknown:
                raise fail(f"field {name!r}: purposes {list(fps)} must be a non-empty list of declared purposes")
            try:
                tier = parse_tier(f.get("tier", "L1"))
            except InvalidInput as exc:
                raise fail(f"field {name!r}: {exc.message}") from exc
            fields[name] = FieldSpec(name, tier, fps, str(f.get("description", "")), bool(f.get("free_text", False)))
        events: dict[str, EventSpec] = {}
        for name, e in raw.get("events", {}).items():
            eps = tuple(e.get("purposes", ()))
            if not eps or any(p not in purposes for p in eps):
                raise fail(f"event {name!r}: purposes {list(eps)} must be a non-empty list of declared purposes")
            efs = tuple(e.get("fields", ()))
            for fname in efs:
                if fname not in fields:
                    raise fail(f"event {name!r}: field {fname!r} has no [fields.{fname}] table")
                if not set(fields[fname].purposes) & set(eps):
                    raise fail(f"event {name!r}: field {fname!r} serves none of the event's purposes {list(eps)}")
            events[name] = EventSpec(name, eps, efs, str(e.get("description", "")))
        return cls(
            version=str(head["version"]), controller=str(head.get("controller", "")),
            contact=str(head.get("contact", "")), purposes=purposes, fields=fields, events=events,
            fingerprint=fingerprint, envelope=tuple(head.get("envelope", ())),
        )

    # ------------------------------------------------------------------ queries
    def purpose(self, name: str) -> Purpose:
        try:
            return self.purposes[name]
        except KeyError:
            raise InvalidInput(f"unknown purpose {name!r}; the manifest declares {sorted(self.purposes)}",
                               code="unknown_purpose") from None

    def event(self, event_type: str) -> EventSpec:
        key = getattr(event_type, "value", event_type)
        try:
            return self.events[key]
        except KeyError:
            raise InvalidInput(f"event type {key!r} is not in the privacy manifest (version {self.version}); "
                               f"add an [events.{key}] table to collect it", code="event_not_in_manifest") from None

    def purpose_for(self, event_type: str) -> str:
        """The primary purpose of ``event_type`` (the first one listed)."""
        return self.event(event_type).purposes[0]

    def purposes_for(self, event_type: str) -> tuple[str, ...]:
        """Every purpose ``event_type`` serves, primary first."""
        return self.event(event_type).purposes

    def allowed_fields(self, event_type: str) -> frozenset[str]:
        """The property fields ``event_type`` may carry."""
        return frozenset(self.event(event_type).fields)

    def field_purposes(self, event_type: str, field_name: str) -> tuple[str, ...]:
        """The purposes for which ``field_name`` is collected on ``event_type`` (empty if not allowed)."""
        spec = self.event(event_type)
        if field_name not in spec.fields:
            return ()
        fps = self.fields[field_name].purposes
        return tuple(p for p in spec.purposes if p in fps)

    def check_event(self, event_type: str, fields: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split ``fields`` into (kept, stripped): stripped are those outside the manifest."""
        allowed = self.allowed_fields(event_type)
        kept = {k: v for k, v in fields.items() if k in allowed}
        stripped = {k: v for k, v in fields.items() if k not in allowed}
        return kept, stripped

    @cached_property
    def field_tiers(self) -> dict[str, Tier]:
        """field name → tier, for :func:`fitloop.privacy.tiers.redact_for`."""
        return {name: f.tier for name, f in self.fields.items()}

    def free_text_fields(self) -> frozenset[str]:
        """Fields holding free text that must pass :func:`fitloop.privacy.scrub.scrub` before storage."""
        return frozenset(n for n, f in self.fields.items() if f.free_text)

    def events_for_purpose(self, purpose: str) -> tuple[str, ...]:
        return tuple(e.event_type for e in self.events.values() if purpose in e.purposes)

    def fields_for_purpose(self, purpose: str) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields.values() if purpose in f.purposes)

    def gpc_purposes(self) -> tuple[str, ...]:
        """Purposes a ``Sec-GPC: 1`` signal withdraws (sharing and marketing)."""
        return tuple(p.name for p in self.purposes.values() if p.gpc)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the same shape as the TOML)."""
        return {
            "manifest": {"version": self.version, "controller": self.controller, "contact": self.contact,
                         "envelope": list(self.envelope), "fingerprint": self.fingerprint},
            "purposes": {n: {"version": p.version, "reconsent_from": p.reconsent_from, "title": p.title, "why": p.why,
                             "lawful_basis": p.lawful_basis, "retention_days": p.retention_days,
                             "users": list(p.users), "owner": p.owner, "recipients": list(p.recipients),
                             "sensitive": p.sensitive, "gpc": p.gpc} for n, p in self.purposes.items()},
            "fields": {n: {"tier": f.tier.name, "purposes": list(f.purposes), "description": f.description,
                           "free_text": f.free_text} for n, f in self.fields.items()},
            "events": {n: {"purposes": list(e.purposes), "fields": list(e.fields), "description": e.description}
                       for n, e in self.events.items()},
        }


def load_manifest(path: str | Path | None = None) -> Manifest:
    """Load the manifest at ``path``, or the packaged default when ``path`` is None."""
    if path is None:
        return default_manifest()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"privacy manifest {p} does not exist; copy fitloop/privacy/{DEFAULT_MANIFEST_RESOURCE} "
                          "and adapt it", code="manifest_missing")
    return Manifest.from_toml(p.read_text(encoding="utf-8"))


def default_manifest() -> Manifest:
    """The packaged manifest covering every fashion event fitloop understands."""
    text = resources.files("fitloop.privacy").joinpath(DEFAULT_MANIFEST_RESOURCE).read_text(encoding="utf-8")
    return Manifest.from_toml(text)
