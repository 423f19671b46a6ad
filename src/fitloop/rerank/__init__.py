"""fitloop.rerank."""
