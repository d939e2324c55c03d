"""One error root for keepposted; each subclass formats its own message for its reader."""

from __future__ import annotations


def shortened(value: str, limit: int = 40) -> str:
    """`value` as an error message quotes it: at most `limit` characters, then an ellipsis, so
    a hostile megabyte is never echoed back whole."""
    return value if len(value) <= limit else f"{value[:limit]}…"


class KeeppostedError(Exception):
    """Root of every error keepposted raises on purpose."""

    http_status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConfigError(KeeppostedError):
    """config.yaml or the environment is wrong; the message names the key and the problem."""

    code = "config_error"

    def __init__(self, problems: list[str], *, source: str = "config.yaml") -> None:
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source} is not valid:\n{lines}")
        self.problems = problems


class InvalidInput(KeeppostedError):
    """A value sent by a user or a client cannot be used."""

    http_status = 422
    code = "invalid"


class NotFound(KeeppostedError):
    http_status = 404
    code = "not_found"


class Conflict(KeeppostedError):
    """The request clashes with what is stored, e.g. a duplicate ref or a closed case."""

    http_status = 409
    code = "conflict"


class InvalidTransition(Conflict):
    """A case cannot go from its current status through the requested action."""

    code = "invalid_transition"

    def __init__(self, case_id: int, status: str, action: str) -> None:
        super().__init__(f"case #{case_id} is {status}; it cannot be {action}.", field="status")


class Unauthorized(KeeppostedError):
    http_status = 401
    code = "unauthorized"


class Forbidden(KeeppostedError):
    """The request is not from who it claims to be (e.g. a webhook with a bad signature)."""

    http_status = 403
    code = "forbidden"


class NotConfigured(KeeppostedError):
    """A part of keepposted is reached that its credentials do not switch on (e.g. Slack)."""

    http_status = 503
    code = "not_configured"


class WorkerAlreadyRunning(KeeppostedError):
    """A second worker was started on an SQLite database, which supports only one."""

    code = "worker_already_running"


class ChannelError(KeeppostedError):
    """A channel could not send.

    `retryable`: trying again later may work (a 429, a 5xx, a refused connection).
    `maybe_sent`: the provider may have taken the message anyway (the answer was lost), so a
    message that must never arrive twice is not retried.
    `problem`: what the error says about the address (an AddressProblem value), if anything.
    """

    code = "channel_error"

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        error_code: str | None = None,
        maybe_sent: bool = False,
        problem: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.error_code = error_code
        self.maybe_sent = maybe_sent
        self.problem = problem


class LinkNotValid(Forbidden):
    """A web chat link whose signature does not check out: mistyped, cut short or forged."""

    code = "link_not_valid"


class LinkGone(KeeppostedError):
    """A web chat link that was real but is no more: expired, or replaced by a newer one."""

    http_status = 410

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class MalformedBody(KeeppostedError):
    """The body cannot be read at all (broken JSON): 400, where a well-formed but invalid
    body is InvalidInput's 422."""

    http_status = 400
    code = "malformed_body"


class UnsupportedMediaType(KeeppostedError):
    http_status = 415
    code = "unsupported_media_type"


class TooLarge(KeeppostedError):
    http_status = 413
    code = "too_large"


class BadCsrfToken(KeeppostedError):
    """A form posted to /admin without this session's CSRF token."""

    http_status = 400
    code = "bad_csrf_token"


class TooManyRequests(KeeppostedError):
    """Slow down; `retry_after` seconds is when trying again will work."""

    http_status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
