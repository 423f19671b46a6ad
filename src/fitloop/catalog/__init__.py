"""fitloop.catalog."""
