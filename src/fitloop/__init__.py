"""fitloop: lawful precision marketing for fashion e-commerce."""

__version__ = "0.1.0"

