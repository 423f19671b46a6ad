"""Data-subject rights: export everything held on a shopper, erase them from every store, retention.

**Erasure** works through every store, for the shopper's id and every anonymous id linked to it:
events, impressions, profile, the collector's quarantine, stripped fields, the identity vault, identity
links, the consent ledger, the online stores (Redis keys, values and stream entries), and the model
artefacts on disk (per-shopper lists in recommender bundles, segment memberships in JSON models).
Last, the shopper's data key is deleted (crypto-shredding), so any copy of their encrypted data left
in a backup or replica can no longer be read.

What is kept: one erasure record under a keyed hash of the id (never the id), with the number of rows
removed per store and the consent history *without* the id or free-text sources (purpose, version,
granted, time). It proves that processing had a basis and that erasure was done, and the shop can find
it again only when the shopper's id is presented (the hash is keyed with the installation secret).

**Export** returns JSON with every tier decrypted for the data subject.

**Retention** deletes events whose every purpose is past its retention (untagged events count under
their event type's primary purpose) and impressions past the ``personalisation``/``analytics`` retention.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from fitloop.data import Event
from fitloop.errors import InvalidInput
from fitloop.privacy import Observation, RetentionPolicy
from fitloop.services.privacy import PURPOSES_FIELD, PrivacyService
from fitloop.store import Stores

__all__ = ["DataSubjectService", "ErasureReport", "RetentionReport", "erase_from_model_files", "L2_TYPES"]

log = logging.getLogger(__name__)

#: Event types that are orders and returns (tier L2); the rest of the behaviour log is L3.
L2_TYPES = frozenset({"order_completed", "order_cancelled", "product_returned"})
#: How long past its cutoff expired data may be found before the sweep reports a violation.
RETENTION_GRACE = timedelta(days=2)
_ARRAYS = "arrays.npz"
_MANIFEST = "manifest.json"
_LIST_ARRAYS = ("list_items", "list_scores", "list_reasons", "list_anchors")


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What one erasure removed, per store."""

    ids: tuple[str, ...]
    removed: Mapping[str, int]
    data_keys_deleted: int
    model_files_rewritten: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"erased": True, "ids": len(self.ids), "removed": dict(self.removed),
                "data_keys_deleted": self.data_keys_deleted, "model_files_rewritten": len(self.model_files_rewritten)}


@dataclass(frozen=True, slots=True)
class RetentionReport:
    events_deleted: int
    events_retagged: int
    impressions_deleted: int
    by_purpose: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _event_dict(e: Event) -> dict[str, Any]:
    return {"event_id": e.event_id, "type": e.type.value, "user_id": e.user_id, "anonymous_id": e.anonymous_id,
            "ts": e.ts.isoformat(), "item_id": e.item_id, "size": e.size, "quantity": e.quantity, "price": e.price,
            "source": e.source, "properties": dict(e.properties)}


# ---------------------------------------------------------------------------------------------- model files
def _replace_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _scrub_json(doc: Any, ids: frozenset[str]) -> tuple[Any, bool]:
    """``doc`` without any key or list element that is one of ``ids`` (or a string naming one as a whole id)."""
    changed = False
    if not ids:
        return doc, False
    pattern = re.compile(r"(?<![A-Za-z0-9_\-])(?:" + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
                         + r")(?![A-Za-z0-9_\-])")

    def named(x: str) -> bool:
        return x in ids or pattern.search(x) is not None

    def walk(v: Any) -> Any:
        nonlocal changed
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if named(str(k)):
                    changed = True
                    continue
                out[k] = walk(x)
            return out
        if isinstance(v, list):
            out_l = []
            for x in v:
                if isinstance(x, str) and named(x):
                    changed = True
                    continue
                out_l.append(walk(x))
            return out_l
        if isinstance(v, str) and named(v):
            changed = True
            return ""
        return v

    return walk(doc), changed


def _rewrite_bundle(folder: Path, ids: frozenset[str]) -> bool:
    """Remove the shoppers' rows from a recommender bundle's arrays and fix its checksums."""
    arrays = folder / _ARRAYS
    with np.load(arrays, allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    if "user_ids" not in a or "user_indptr" not in a:
        return False
    users = a["user_ids"].astype(str)
    drop = np.isin(users, list(ids))
    if not drop.any():
        return False
    indptr = a["user_indptr"].astype(np.int64)
    keep_rows = np.ones(int(indptr[-1]), dtype=bool)
    for i in np.flatnonzero(drop):
        keep_rows[indptr[i]:indptr[i + 1]] = False
    lengths = np.diff(indptr)[~drop]
    a["user_ids"] = a["user_ids"][~drop]
    a["user_last_type"] = a["user_last_type"][~drop]
    a["user_indptr"] = np.concatenate([[0], np.cumsum(lengths)]).astype(a["user_indptr"].dtype)
    for name in _LIST_ARRAYS:
        if name in a:
            a[name] = a[name][keep_rows]
    tmp = folder / f".{_ARRAYS}.{os.getpid()}.tmp.npz"
    np.savez(tmp, **a)
    os.replace(tmp, arrays)
    manifest_path = folder / _MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest, _ = _scrub_json(manifest, ids)
    manifest.setdefault("files", {})[_ARRAYS] = _sha256(arrays)
    manifest["erasures"] = int(manifest.get("erasures", 0)) + 1
    _replace_file(manifest_path, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return True


def erase_from_model_files(roots: Iterable[Path | str], ids: Sequence[str]) -> list[str]:
    """Rewrite every model artefact under ``roots`` without ``ids``; returns the files rewritten.

    Recommender bundles (``manifest.json`` + ``arrays.npz``) lose the shoppers' rows, in every version on
    disk, with their checksums fixed so they still load. Other JSON artefacts (segment models) lose every
    key and list element naming one of the ids.
    """
    wanted = frozenset(i for i in ids if i)
    out: list[str] = []
    seen: set[Path] = set()
    for root in roots:
        root = Path(root)
        if root.is_file():
            files = [root]
        elif root.is_dir():
            files = [p for p in root.rglob("*") if p.is_file()]
        else:
            continue
        for p in files:
            rp = p.resolve()
            if rp in seen or p.name.startswith("."):
                continue
            seen.add(rp)
            try:
                if p.name == _ARRAYS and (p.parent / _MANIFEST).is_file():
                    if _rewrite_bundle(p.parent, wanted):
                        out.append(str(p))
                elif p.suffix == ".json" and p.name != _MANIFEST:
                    raw = p.read_bytes()
                    if not any(i.encode() in raw for i in wanted):
                        continue  # cheap pre-check; _scrub_json decides on whole ids
                    doc, changed = _scrub_json(json.loads(raw), wanted)
                    if changed:
                        _replace_file(p, json.dumps(doc).encode())
                        out.append(str(p))
            except (OSError, ValueError, KeyError) as exc:
                log.error("could not erase from model file %s: %s", p, exc)
                raise
    return out


def _bundle_factors(roots: Iterable[Path | str], user_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The per-shopper lists the recommender bundles hold for ``user_ids`` (for export)."""
    out = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for arrays in root.rglob(_ARRAYS):
            if not (arrays.parent / _MANIFEST).is_file():
                continue
            with np.load(arrays, allow_pickle=False) as z:
                if "user_ids" not in z.files:
                    continue
                users = z["user_ids"].astype(str).tolist()
                indptr = z["user_indptr"]
                items = z["item_ids"].astype(str)
                for u in user_ids:
                    if u in users:
                        i = users.index(u)
                        lo, hi = int(indptr[i]), int(indptr[i + 1])
                        out.append({"bundle": arrays.parent.name, "user_id": u,
                                    "items": items[z["list_items"][lo:hi]].tolist(),
                                    "scores": [round(float(s), 6) for s in z["list_scores"][lo:hi]]})
    return out


# ---------------------------------------------------------------------------------------------- the service
class DataSubjectService:
    """Export, erasure and retention over every store."""

    def __init__(self, stores: Stores, privacy: PrivacyService, *, model_dirs: Sequence[Path | str] = (),
                 segment_of: Callable[[str], str | None] | None = None) -> None:
        self.stores = stores
        self.privacy = privacy
        self.model_dirs = [Path(p) for p in model_dirs]
        self.segment_of = segment_of

    def _ids(self, user_id: str) -> list[str]:
        if not user_id or len(user_id) > 128:
            raise InvalidInput("user_id must be 1 to 128 characters", code="invalid_user_id")
        assert self.stores.privacy is not None
        return [user_id, *(a for a in self.stores.privacy.linked_ids(user_id) if a != user_id)]

    def _model_roots(self) -> list[Path]:
        roots = list(self.model_dirs)
        for name in ("recommender", "segments"):
            try:
                records = self.stores.models.list(name)
            except Exception:  # noqa: BLE001 - a registry hiccup must not hide artefacts under model_dirs
                records = []
            for r in records:
                p = Path(r.path)
                roots.append(p.parent if (p / _MANIFEST).is_file() else p)
        return roots

    # ------------------------------------------------------------------ export
    def export(self, user_id: str) -> dict[str, Any]:
        """Everything held on ``user_id`` (and linked anonymous ids), decrypted, as JSON-ready data."""
        ids = self._ids(user_id)
        s = self.stores
        events: list[Event] = []
        seen: set[str] = set()
        for i in ids:
            for e in s.events.scan(user_id=i):
                if e.event_id not in seen:
                    seen.add(e.event_id)
                    events.append(e)
        events.sort(key=lambda e: e.ts)
        impressions = [{"request_id": im.request_id, "slot": im.slot, "policy_version": im.policy_version,
                        "ts": im.ts.isoformat(), "items": [dict(x) for x in im.items], "context": dict(im.context)}
                       for i in ids for im in s.impressions.scan(user_id=i)]
        ledger = self.privacy.ledger(user_id, *ids[1:])
        profile = {i: s.profiles.get(i) for i in ids}
        segment = self.segment_of(user_id) if self.segment_of is not None else None
        user = s.users.get_user(user_id)
        return {
            "format": "fitloop.export.v1",
            "generated_at": datetime.now(UTC).isoformat(),
            "user_id": user_id,
            "linked_ids": ids[1:],
            "controller": self.privacy.manifest.controller,
            "identity_L1": {i: self.privacy.identity(i) for i in ids if self.privacy.identity(i)},
            "user": None if user is None else {"user_id": user.user_id, **{k: v for k, v in asdict(user).items()
                                                                             if k != "user_id"}},
            "orders_and_returns_L2": [_event_dict(e) for e in events if e.type.value in L2_TYPES],
            "behaviour_L3": [_event_dict(e) for e in events if e.type.value not in L2_TYPES],
            "profiles": {k: v for k, v in profile.items() if v is not None},
            "segment": segment,
            "impressions": impressions,
            "consent": ledger.snapshot(user_id),
            "consent_receipts": [r for i in ids for r in self.privacy.ledger(i).receipts(i)],
            "stripped_fields": [r for i in ids for r in self.privacy.stripped_values(i)],
            "model_factors": _bundle_factors(self._model_roots(), ids),
        }

    # ------------------------------------------------------------------ erasure
    def erase(self, user_id: str, *, actor: str = "api") -> ErasureReport:
        """Erase ``user_id`` (and linked anonymous ids) from every store; idempotent."""
        ids = self._ids(user_id)
        s = self.stores
        assert s.privacy is not None
        removed: dict[str, int] = {"events": 0, "impressions": 0, "profiles": 0, "quarantine": 0,
                                   "stripped_fields": 0, "identity_fields": 0, "consents": 0}
        history: list[dict[str, Any]] = []
        keys = 0
        # Serving stops using the shopper's model factors before anything else happens.
        for i in ids:
            self.privacy.mark_erased(i)
        for i in ids:
            removed["events"] += s.events.delete_user(i)
            removed["impressions"] += s.impressions.delete_user(i)
            if s.profiles.get(i) is not None:
                s.profiles.delete(i)
                removed["profiles"] += 1
            if s.quarantine is not None:
                removed["quarantine"] += s.quarantine.delete_user(i)
            removed["stripped_fields"] += s.privacy.delete_stripped(i)
            removed["identity_fields"] += s.privacy.delete_identity(i)
            consents = s.users.consents(i)
            history += [{"purpose": c.purpose, "version": c.version, "granted": c.granted, "ts": c.ts.isoformat()}
                        for c in consents]
            removed["consents"] += len(consents)
            s.users.delete_user(i)
            keys += int(self.privacy.vault.forget(i))
        removed["identity_links"] = s.privacy.delete_links(user_id)
        online = 0
        for eraser in s.erasers:
            online += eraser.erase(ids)
        removed["online_entries"] = online
        files = erase_from_model_files(self._model_roots(), ids)
        removed["model_files"] = len(files)
        for i in ids:
            self.privacy.invalidate(i)
            # Second pass: a real-time profile updater that read the shopper's events just before they were
            # deleted may have written the profile back meanwhile.
            if s.profiles.get(i) is not None:
                s.profiles.delete(i)
        now = datetime.now(UTC)
        s.privacy.record_erasure(self.privacy.subject_hash(user_id), now, {
            "removed": removed, "data_keys_deleted": keys, "actor": actor[:64],
            "consent_history": sorted(history, key=lambda h: h["ts"])})
        for i in ids[1:]:
            s.privacy.record_erasure(self.privacy.subject_hash(i), now, {"linked_to_erasure": True})
        log.info("erased a data subject", extra={"removed": removed, "data_keys": keys})
        return ErasureReport(tuple(ids), removed, keys, tuple(files))

    # ------------------------------------------------------------------ retention
    def run_retention(self, *, now: datetime | None = None, batch: int = 5000) -> RetentionReport:
        """Delete events past the retention of every purpose they were stored for; drop expired purpose tags
        from the rest; delete impressions older than the longest of personalisation and analytics retention."""
        now = now or datetime.now(UTC)
        s = self.stores
        assert s.privacy is not None
        m = self.privacy.manifest
        policy = RetentionPolicy(m)
        cutoffs = policy.retention_cutoffs(now)
        newest_cut = max(cutoffs.values())  # younger than every cutoff: alive for every purpose
        deleted = retagged = 0
        by_purpose: dict[str, int] = {}
        oldest: dict[str, datetime] = {}
        after = 0
        while True:
            rows = s.events.tail(after, limit=batch)
            if not rows:
                break
            after = rows[-1][0]
            doomed: list[str] = []
            for _, e in rows:
                if e.ts >= newest_cut:
                    continue
                tags = e.properties.get(PURPOSES_FIELD)
                purposes = [p for p in tags if p in cutoffs] if isinstance(tags, list) else []
                if not purposes:
                    et = e.type.value
                    purposes = [m.purpose_for(et)] if et in m.events else []
                if not purposes:
                    continue
                live = [p for p in purposes if e.ts >= cutoffs[p]]
                if not live:
                    doomed.append(e.event_id)
                    for p in purposes:
                        by_purpose[p] = by_purpose.get(p, 0) + 1
                        oldest[p] = min(oldest.get(p, e.ts), e.ts)
                elif isinstance(tags, list) and len(live) < len(purposes):
                    s.privacy.set_event_properties(e.event_id, {**e.properties, PURPOSES_FIELD: live})
                    retagged += 1
            if doomed:
                deleted += s.privacy.delete_events(doomed)
        imp_cut = min(cutoffs.get("personalisation", now), cutoffs.get("analytics", now))
        impressions = s.privacy.delete_impressions_before(imp_cut)
        for p, n in by_purpose.items():
            # Data more than a grace period past its cutoff means the job did not run in time: the monitor
            # raises past_retention for the purpose's owner. Data that expired since the last daily run is normal.
            if oldest[p] < cutoffs[p] - RETENTION_GRACE:
                self.privacy.observe(Observation("retention", purposes=(p,), count=n, oldest_ts=oldest[p]))
        return RetentionReport(deleted, retagged, impressions, by_purpose)
