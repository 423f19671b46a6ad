"""HTTP API: ``create_app(settings)``; routes are thin and call one service each."""

from fitloop.api.app import create_app

__all__ = ["create_app"]
