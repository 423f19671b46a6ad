"""fitloop.store."""
