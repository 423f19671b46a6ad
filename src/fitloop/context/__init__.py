"""fitloop.context."""
