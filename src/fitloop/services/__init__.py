"""fitloop.services."""
