"""fitloop.cli."""
