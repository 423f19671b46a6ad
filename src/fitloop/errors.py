"""One exception tree for the whole engine.

Library code raises these; ``fitloop.api`` maps them to HTTP responses in one
place and ``fitloop.cli`` prints them without a traceback. Every error carries
a stable machine-readable ``code`` and a message that says what to fix.

>>> err = InvalidInput("k must be between 1 and 100", code="invalid_k")
>>> (err.code, err.http_status, str(err))
('invalid_k', 422, 'k must be between 1 and 100')
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FitloopError",
    "InvalidInput",
    "PayloadTooLarge",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "ConsentRequired",
    "CollectionPaused",
    "NotTrained",
    "ModelBundleError",
    "StoreError",
    "StoreUnavailable",
    "ConfigError",
    "DatasetError",
]


class FitloopError(Exception):
    """Base of every error fitloop raises on purpose.

    ``code`` is a short snake_case identifier clients can switch on,
    ``details`` holds structured context (field names, limits, …).
    """

    http_status: int = 500
    default_code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The JSON body the API sends for this error."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidInput(FitloopError):
    """The caller sent something malformed; the message says what to fix."""

    http_status = 422
    default_code = "invalid_input"


class PayloadTooLarge(InvalidInput):
    """A request or one of its parts is over a documented size limit."""

    http_status = 413
    default_code = "payload_too_large"


class Unauthorized(FitloopError):
    """Missing or wrong credentials (write key, session, signature)."""

    http_status = 401
    default_code = "unauthorized"


class Forbidden(FitloopError):
    """Authenticated, but this role or source may not do this."""

    http_status = 403
    default_code = "forbidden"


class NotFound(FitloopError):
    """The named thing does not exist."""

    http_status = 404
    default_code = "not_found"


class Conflict(FitloopError):
    """The request clashes with the current state (duplicate name, stale version)."""

    http_status = 409
    default_code = "conflict"


class ConsentRequired(Forbidden):
    """The shopper has not consented to the purpose this needs."""

    default_code = "consent_required"


class CollectionPaused(Forbidden):
    """The compliance monitor paused this collection until its owner resumes it."""

    default_code = "collection_paused"


class NotTrained(FitloopError):
    """No model is available yet; the message says how to train one."""

    http_status = 503
    default_code = "not_trained"


class ModelBundleError(FitloopError):
    """A model bundle on disk is corrupt or incompatible and was refused."""

    http_status = 500
    default_code = "model_bundle_invalid"


class StoreError(FitloopError):
    """A storage operation failed in a way the caller cannot fix."""

    http_status = 500
    default_code = "store_error"


class StoreUnavailable(StoreError):
    """The store is temporarily unavailable (down, locked, disk full); retry later."""

    http_status = 503
    default_code = "store_unavailable"

    def __init__(self, message: str, *, retry_after_s: int = 5, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_s = retry_after_s


class ConfigError(FitloopError):
    """Settings are missing or unsafe (e.g. a weak secret outside demo mode)."""

    http_status = 500
    default_code = "config_error"


class DatasetError(FitloopError):
    """A public dataset file is missing or does not have the expected schema."""

    http_status = 400
    default_code = "dataset_error"
