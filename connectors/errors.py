"""The exception tree for everything that talks to the outside world.

::

    WorkerError                                  (config.errors)
    └── IntegrationError                         service, method, path, status, vendor request id
        ├── RetryableError                       try again later; ``retry_after`` seconds if known
        │   ├── TransportError                   connection refused, reset, DNS, TLS
        │   │   └── RequestTimeout               connect or read timeout
        │   ├── RateLimited                      429 (or our own limiter said wait)
        │   └── ServerError                      5xx
        └── PermanentError                       retrying cannot help; a person must act
            ├── BadRequest                       400; ``field_errors`` {dotted.field: [messages]}
            │   └── RequestValidationError       refused before sending (our own validation)
            ├── AuthenticationError              401, 403: credentials or permissions
            ├── NotFound                         404
            ├── Conflict                         409, 422: the remote state forbids it
            ├── MappingError                     an ATS record cannot become a Crosschq request
            └── WebhookRejected                  an inbound webhook we must refuse
                ├── WebhookAuthError             bad or missing signature/secret -> 401
                └── WebhookPayloadError          not JSON, wrong shape, missing ids -> 400

Errors carry method, path, status and the vendor's request id, never a response body: bodies can
hold personal data. Field errors keep only field names and the vendor's messages, which are
generic ("This field is required.").

Constructors take the message as the only positional argument so that Celery can rebuild an
exception from its JSON form (celery#3586 and relatives).
"""

from __future__ import annotations

from typing import Any

from config.errors import WorkerError


class IntegrationError(WorkerError):
    retryable: bool = False

    def __init__(
        self,
        message: str = "",
        *,
        service: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.service = service
        self.method = method
        self.path = path
        self.status = status
        self.request_id = request_id

    def context(self) -> dict[str, Any]:
        """Fields for a log line or a dead-letter record."""
        return {
            key: value
            for key, value in {
                "error": type(self).__name__,
                "service": self.service,
                "method": self.method,
                "path": self.path,
                "status": self.status,
                "vendor_request_id": self.request_id,
            }.items()
            if value is not None
        }

    def __str__(self) -> str:
        where = " ".join(str(p) for p in (self.service, self.method, self.path) if p)
        status = f" -> {self.status}" if self.status is not None else ""
        prefix = f"{where}{status}: " if where or status else ""
        return f"{prefix}{self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep attributes across pickling (multiprocessing, billiard) as well as JSON.
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[IntegrationError], message: str, state: dict[str, Any]) -> IntegrationError:
    exc = cls(message)
    exc.__dict__.update(state)
    return exc


class RetryableError(IntegrationError):
    retryable = True

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class TransportError(RetryableError):
    pass


class RequestTimeout(TransportError):
    pass


class RateLimited(RetryableError):
    pass


class ServerError(RetryableError):
    pass


class PermanentError(IntegrationError):
    pass


class BadRequest(PermanentError):
    def __init__(
        self, message: str = "", *, field_errors: dict[str, list[str]] | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.field_errors: dict[str, list[str]] = dict(field_errors or {})

    def __str__(self) -> str:
        base = super().__str__()
        if not self.field_errors:
            return base
        fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(self.field_errors.items()))
        return f"{base} ({fields})"


class RequestValidationError(BadRequest):
    """Our own validation refused the request before it was sent."""


class AuthenticationError(PermanentError):
    pass


class NotFound(PermanentError):
    pass


class Conflict(PermanentError):
    pass


class MappingError(PermanentError):
    """An ATS record cannot be turned into a Crosschq request (no e-mail, unknown job role...)."""


class WebhookRejected(PermanentError):
    http_status = 400


class WebhookAuthError(WebhookRejected):
    http_status = 401


class WebhookPayloadError(WebhookRejected):
    http_status = 400
