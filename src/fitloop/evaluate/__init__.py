"""fitloop.evaluate."""
