"""fitloop.privacy."""
