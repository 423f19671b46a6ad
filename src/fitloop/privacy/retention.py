"""Retention per purpose, from the manifest.

Each purpose keeps its data for ``retention_days``. A record collected for
several purposes may be kept while any of them still allows it; the retention
job deletes (or strips the purpose tag from) what is past every cutoff.

>>> from datetime import datetime, timezone
>>> from fitloop.privacy.manifest import default_manifest
>>> r = RetentionPolicy(default_manifest())
>>> now = datetime(2026, 6, 1, tzinfo=timezone.utc)
>>> r.expired("photo_analysis", datetime(2026, 4, 1, tzinfo=timezone.utc), now)
True
>>> r.expired("analytics", datetime(2026, 4, 1, tzinfo=timezone.utc), now)
False
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from fitloop.errors import InvalidInput
from fitloop.privacy.manifest import Manifest

__all__ = ["RetentionPolicy", "expired", "retention_cutoffs"]


def _aware(ts: datetime, name: str) -> datetime:
    if ts.tzinfo is None:
        raise InvalidInput(f"{name} must be timezone-aware (UTC)", code="naive_datetime")
    return ts


class RetentionPolicy:
    """Retention decisions for one manifest."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest

    def period(self, purpose: str) -> timedelta:
        return timedelta(days=self.manifest.purpose(purpose).retention_days)

    def cutoff(self, purpose: str, now: datetime) -> datetime:
        """Data of ``purpose`` collected before this instant is past retention."""
        return _aware(now, "now") - self.period(purpose)

    def expired(self, purpose: str, ts: datetime, now: datetime) -> bool:
        """True when data of ``purpose`` collected at ``ts`` must be deleted at ``now``."""
        return _aware(ts, "ts") < self.cutoff(purpose, now)

    def expired_for_all(self, purposes: Iterable[str], ts: datetime, now: datetime) -> bool:
        """True when a record tagged with ``purposes`` is past the retention of every one of them."""
        ps = list(purposes)
        return not ps or all(self.expired(p, ts, now) for p in ps)

    def retention_cutoffs(self, now: datetime) -> dict[str, datetime]:
        """purpose → cutoff instant, for the retention job's DELETE … WHERE ts < cutoff."""
        return {p: self.cutoff(p, now) for p in self.manifest.purposes}


def expired(manifest: Manifest, purpose: str, ts: datetime, now: datetime) -> bool:
    """Functional form of :meth:`RetentionPolicy.expired`."""
    return RetentionPolicy(manifest).expired(purpose, ts, now)


def retention_cutoffs(manifest: Manifest, now: datetime) -> dict[str, datetime]:
    """Functional form of :meth:`RetentionPolicy.retention_cutoffs`."""
    return RetentionPolicy(manifest).retention_cutoffs(now)
