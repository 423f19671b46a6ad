"""Conformance suites shipped with fitloop, so every adapter and model is tested the same way.

A new storage backend needs a three-line test class::

    class TestMyBackend(StoreConformance):
        @pytest.fixture
        def stores(self):
            return build_my_stores()
"""

from fitloop.testing.store_suite import CacheConformance, EventBusConformance, StoreConformance

__all__ = ["CacheConformance", "EventBusConformance", "StoreConformance"]
