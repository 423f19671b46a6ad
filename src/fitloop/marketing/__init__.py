"""fitloop.marketing."""
