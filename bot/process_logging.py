"""Process logging: JSON lines (production) or readable text (dev), with phone numbers masked.

`configure_logging()` puts one handler on the root logger, so every logger (ours, gunicorn's
under `keepposted serve`, and third-party ones such as `twilio.http_client`, which logs request
URLs and query parameters with phone numbers in them) goes through the same formatter and the
same `MaskPhoneNumbers` filter. Environment: `LOG_FORMAT` = `json` | `text` (the default depends
on the command: `json` for `serve` and `worker`, `text` for `dev`), `LOG_LEVEL` (default `INFO`).

What is masked: `+` (or `%2B`) and 7-15 digits, and numbers written in groups of digits split
by spaces, dashes, dots or parentheses with 8-15 digits in all. A masked number keeps its
punctuation and its last two digits: `+14155550101` becomes `+*********01` and
`(415) 555-0101` becomes `(***) ***-**01`. Left alone: a bare run of digits with no `+` (an id,
an epoch), dates and ISO timestamps, decimals (Slack ts, durations), UUIDs, hex digests, IPv4
addresses, `#1042`. Web chat link tokens (`/c/<token>`, in access logs) are hidden too.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from bot.errors import ConfigError

LOG_FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
JSON_NAMES = {"levelname": "level", "name": "logger"}
# Loggers that say a line per header or per job run at INFO: heard at DEBUG only.
CHATTY = ("twilio.http_client", "apscheduler.executors.default")

# Things that look numeric but are not phone numbers. The scanner tries them first at each
# position, so a phone pattern never starts inside one of them.
_NOT_PHONES = r"""
    \d{4}-\d{2}-\d{2}                                       # ISO date ...
      (?:[T\ ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?        # ... with a time ...
         (?:Z|[+-]\d{2}(?::?\d{2})?)?)?                     # ... and a zone
  | \d{1,2}[./-]\d{1,2}[./-](?:19|20)\d{2}(?!\d)            # 23.11.2026, 11-23-2026
  | \d{4}\.\d{2}\.\d{2}(?![.\d])                            # 2026.11.23
  | [0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}    # UUID
  | (?<!\w)[0-9a-fA-F]{16,}(?!\w)                           # SHA-256 and other hex digests
  | \d{1,3}(?:\.\d{1,3}){3}(?![.\d])                        # IPv4 address
  | \d+\.\d+(?![.\d])                                       # a decimal: a Slack ts, a duration
"""
_PHONES = r"""
    (?<![\w+%.\#/-])               # not inside a word, a number, a path, or a #case number
    (?:
        (?:\+|%2[Bb])\d{7,15}(?!\d)                         # E.164, maybe URL-encoded (%2B)
      | (?:(?:\+|%2[Bb])\ ?)?                               # or formatted: a prefix,
        (?:\(\d{1,5}\)[\ .\-]?|\d{1,5}(?:[\ .\-]|(?=\()))   # groups of digits, each followed
        {1,6}\d{1,8}(?!\w)                                  # by a separator, and the last
    )
"""
_SCANNER = re.compile(rf"(?P<keep>{_NOT_PHONES})|(?P<phone>{_PHONES})", re.VERBOSE)
_WEBCHAT_TOKEN = re.compile(r"(?<=/c/)[\w.\-]{20,}")  # a signed link lets its holder in


def _mask_phone(found: re.Match[str]) -> str:
    text = found.group()
    if found.group("keep") is not None:
        return text
    prefix = text[:3] if text[:3].upper() == "%2B" else ""
    body = text[len(prefix) :]
    digits = sum(c.isdigit() for c in body)
    international = bool(prefix) or body.startswith("+")
    if not (7 if international else 8) <= digits <= 15:
        return text  # too short for a phone number (a count, a year), or too long
    shown = 2
    masked = []
    for char in reversed(body):
        if char.isdigit():
            masked.append(char if shown > 0 else "*")
            shown -= 1
        else:
            masked.append(char)
    return prefix + "".join(reversed(masked))


def mask_sensitive(text: str) -> str:
    """The text with phone numbers masked (last two digits kept) and web chat tokens hidden."""
    if not any(c.isdigit() for c in text):
        return text
    return _WEBCHAT_TOKEN.sub("<token>", _SCANNER.sub(_mask_phone, text))


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_sensitive(value)
    if isinstance(value, Mapping):
        return {key: _mask_value(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_mask_value(item) for item in value)
    if isinstance(value, list | set | frozenset):
        return [_mask_value(item) for item in value]
    return value


_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class MaskPhoneNumbers(logging.Filter):
    """Masks phone numbers in a record's message and in its `extra` fields; never drops one.

    Tracebacks are masked by this module's formatters: they are formatted after filters run.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, Mapping):  # a dict message becomes the JSON fields
            record.msg = _mask_value(record.msg)
        else:
            try:
                message = record.getMessage()
            except Exception:  # arguments that do not fit the format: leave it to the handler
                return True
            record.msg, record.args = mask_sensitive(message), ()
        if record.exc_text:  # a traceback another handler formatted first
            record.exc_text = mask_sensitive(record.exc_text)
        for name, value in list(vars(record).items()):
            if name not in _RECORD_FIELDS:
                setattr(record, name, _mask_value(value))
        return True


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class _MaskedTracebacks(logging.Formatter):
    def formatException(self, ei: ExcInfo) -> str:
        return mask_sensitive(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return mask_sensitive(super().formatStack(stack_info))


class TextLines(_MaskedTracebacks):
    """`2026-11-23 10:00:00,123 INFO bot.worker: ...`, for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)


class JsonLines(_MaskedTracebacks, JsonFormatter):
    """One JSON object a line: `timestamp` (UTC, ISO 8601), `level`, `logger`, `message`,
    `exc_info` when there is one, and every `extra` field."""

    def __init__(self) -> None:
        super().__init__(JSON_FIELDS, rename_fields=JSON_NAMES, timestamp=True)


class KeeppostedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler `configure_logging` owns: found again by its class, never doubled."""


def build_handler(fmt: str = "json", stream: TextIO | None = None) -> logging.Handler:
    """A stream handler with the format's formatter and the phone-number filter."""
    handler = KeeppostedHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else TextLines())
    handler.addFilter(MaskPhoneNumbers())
    return handler


def _settings(fmt: str | None, level: str | None, default_format: str) -> tuple[str, int]:
    fmt = (fmt or os.environ.get("LOG_FORMAT") or default_format).strip().lower()
    level_name = (level or os.environ.get("LOG_LEVEL") or "INFO").strip().upper()
    levels = logging.getLevelNamesMapping()
    problems = []
    if fmt not in LOG_FORMATS:
        problems.append(f"LOG_FORMAT: {fmt!r} is not one of {', '.join(LOG_FORMATS)}")
    if level_name not in levels:
        problems.append(f"LOG_LEVEL: {level_name!r} is not one of DEBUG, INFO, WARNING, ERROR")
    if problems:
        raise ConfigError(problems, source="the environment")
    return fmt, levels[level_name]


def configure_logging(
    fmt: str | None = None,
    level: str | None = None,
    *,
    default_format: str = "json",
    stream: TextIO | None = None,
) -> None:
    """Send every logger's records, masked, to one root handler (stderr by default).

    `fmt` and `level` win over `LOG_FORMAT` and `LOG_LEVEL`; `default_format` applies when
    neither says. Calling it again reconfigures the same handler instead of adding one.
    """
    fmt, levelno = _settings(fmt, level, default_format)
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, KeeppostedHandler)]
    if ours:
        ours[0].setFormatter(build_handler(fmt).formatter)
        ours[0].setStream(stream or sys.stderr)
        for extra in ours[1:]:
            root.removeHandler(extra)
    else:
        root.addHandler(build_handler(fmt, stream))
    root.setLevel(levelno)
    chatty_level = logging.NOTSET if levelno <= logging.DEBUG else logging.WARNING
    for name in CHATTY:
        logging.getLogger(name).setLevel(chatty_level)


def configure_logging_if_unset() -> None:
    """Configure logging unless something already did (a CLI command, gunicorn's logconfig,
    pytest): what `create_app` does for `gunicorn 'bot.app:create_app()'`."""
    if not logging.getLogger().handlers:
        configure_logging()


def gunicorn_logconfig(fmt: str | None = None, level: str | None = None) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its error and access logs go through the app's handler, so
    they are JSON (or text) and masked like everything else. The access log then carries, per
    request, the client address, the request line (path and query string, web chat tokens
    hidden), the status, the size, the referer and the user agent."""
    fmt, levelno = _settings(fmt, level, "json")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"keepposted": {"()": build_handler, "fmt": fmt}},
        "root": {"level": levelno, "handlers": ["keepposted"]},
        "loggers": {
            "gunicorn.error": {"level": levelno, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": logging.INFO, "handlers": [], "propagate": True},
        },
    }
