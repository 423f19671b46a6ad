"""fitloop.profile."""
