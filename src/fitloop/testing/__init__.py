"""fitloop.testing."""
