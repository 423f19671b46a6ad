"""What ``fitloop demo`` adds for the console: one login per role and consent decisions for simulated shoppers.

The simulated shop has no consent ledger (no real people decided anything), so campaigns would have
no one to send to. :func:`seed_simulated_consents` records seeded, clearly labelled decisions
(source ``simulated-demo``) for simulated shoppers only, and only when the ledger is empty.

>>> from fitloop.config import Settings
>>> from fitloop.wiring import build_stores
>>> stores = build_stores(Settings(database_url="sqlite:///:memory:", demo=True))
>>> sorted(ensure_demo_users(stores).values())
['admin', 'analyst', 'dpo', 'marketer', 'merchandiser']
>>> stores.close()
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

import numpy as np

from fitloop.data import Consent
from fitloop.services.console_auth import DEMO_PASSWORD, ensure_demo_users
from fitloop.store import Stores

__all__ = ["DEMO_PASSWORD", "ensure_demo_users", "seed_simulated_consents", "prepare_console_demo"]

DEMO_CONSENT_SOURCE = "simulated-demo"
#: Share of simulated shoppers who grant each purpose (roughly what opt-in shops report).
DEMO_GRANT_RATES = {"personalisation": 0.8, "marketing_email": 0.55, "marketing_push": 0.3, "analytics": 0.7}


def seed_simulated_consents(stores: Stores, *, seed: int = 0, max_users: int = 200_000,
                            now: datetime | None = None) -> int:
    """Seeded consent decisions for every shopper, when no shopper has any yet. Returns entries written."""
    ids = list(islice(stores.users.iter_user_ids(), max_users))
    if not ids or any(stores.users.consents(u) for u in ids[:50]):
        return 0
    rng = np.random.default_rng(seed)
    now = now or datetime.now(UTC)
    entries = [Consent(u, purpose, 1, bool(rng.random() < rate), now, DEMO_CONSENT_SOURCE)
               for u in ids for purpose, rate in DEMO_GRANT_RATES.items()]
    for i in range(0, len(entries), 5000):
        stores.users.append_consents(entries[i:i + 5000])
    return len(entries)


def prepare_console_demo(stores: Stores, *, seed: int = 0) -> dict[str, str]:
    """Demo users (password :data:`DEMO_PASSWORD`) and simulated consents; returns ``{email: role}``."""
    users = ensure_demo_users(stores)
    seed_simulated_consents(stores, seed=seed)
    return users
