"""Server-rendered pages (landing page, demo shop, console), their templates and static assets."""

from fitloop.web.templating import STATIC_DIR, TEMPLATES_DIR, templates

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "templates"]
