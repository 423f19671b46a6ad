"""fitloop.collect."""
