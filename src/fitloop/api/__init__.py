"""fitloop.api."""
