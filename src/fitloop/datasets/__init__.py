"""Loaders for the real public fashion datasets in ``../shared/data`` (or ``$FITLOOP_DATA_DIR``).

One module per dataset, each function returns a pandas DataFrame with explicit dtypes and raises
:class:`fitloop.errors.DatasetError` (saying what to fix) for a missing file, missing columns or
an unparsable value:

- :mod:`~fitloop.datasets.hm`: H&M transactions, articles, customers
- :mod:`~fitloop.datasets.rtr`: RentTheRunway rentals with fit feedback
- :mod:`~fitloop.datasets.obd`: Open Bandit Dataset logs (random, bts) and item context
- :mod:`~fitloop.datasets.myntra`: Myntra product styles

No global caching: every call reads the file (each loads in well under a second or two).

>>> from fitloop.datasets import hm, resolve_data_dir
>>> tx = hm.load_transactions(resolve_data_dir())    # doctest: +SKIP
"""

from fitloop.datasets import hm, myntra, obd, rtr
from fitloop.datasets._common import DATA_DIR_ENV, resolve_data_dir

__all__ = ["DATA_DIR_ENV", "resolve_data_dir", "hm", "rtr", "obd", "myntra"]
