"""fitloop.datasets."""
