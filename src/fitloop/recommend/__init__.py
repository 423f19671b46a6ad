"""fitloop.recommend."""
