"""The marketer console: server-rendered pages under ``/console`` (include :data:`router` in the app)."""

from fitloop.web.console.pages import router

__all__ = ["router"]
