"""fitloop.web."""
