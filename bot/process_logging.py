"""Process logging: JSON lines (production) or readable text (dev), with what is private masked.

`configure_logging()` puts one handler on the root logger, so every logger (ours, gunicorn's
under `keepposted serve`, and third-party ones such as `twilio.http_client`, which logs request
URLs and query parameters with phone numbers in them) goes through the same formatter and the
same `MaskPhoneNumbers` filter. Environment: `LOG_FORMAT` = `json` | `text` (the default depends
on the command: `json` for `serve` and `worker`, `text` for `dev`), `LOG_LEVEL` (default `INFO`).

What is masked (`mask_sensitive`, the one function every log path uses: the filter and the
formatters here, gunicorn's error and access logs through them, the dry-run console and
`bot.store.db.shown_url`):

- phone numbers: `+` (or `%2B`) and 7-15 digits, and numbers written in groups of digits split by
  spaces, dashes, dots or parentheses with 8-15 digits in all, also URL-encoded (`%2B1%20415...`,
  `(415)%20555-0101`, `%28415%29+555-0101`) and with a query string's `+` read back as a space
  (`From= 14155550101`). A masked number keeps its punctuation and its last two digits:
  `+14155550101` becomes `+*********01`, `(415) 555-0101` becomes `(***) ***-**01`;
- web chat tokens: `/c/<token>` and `?kp_chat=<token>`;
- secret-looking query parameters (`password=***`, `access_token=***`, `sig=***`, ...) and a
  URL's password (`postgresql://kp:***@db/kp`);
- the name in an email address: `***@example.com`.

Left alone: a bare run of digits with no `+` (an id, an epoch), dates and ISO timestamps, decimals
(Slack ts, durations), UUIDs, hex digests, IPv4 addresses, `#1042`. Customers' sentences cannot
be told apart from other text, so no log line carries a message body in the first place
(tests/ops/test_log_leak.py plays every channel and checks).
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
_PLUS = r"(?:\+|%2[Bb])"  # a plus sign, maybe URL-encoded
# Between groups of digits: a space (maybe URL-encoded, or a + in a query string), a dot or a
# dash; around an area code, parentheses (maybe URL-encoded).
_SEP = r"(?:[\ .\-]|%20|\+(?=\d))"
_OPEN, _CLOSE = r"(?:\(|%28)", r"(?:\)|%29)"
_PHONES = rf"""
    (?<![\w+%.\#/-])               # not inside a word, a number, a path, or a #case number
    (?:
        {_PLUS}\d{{7,15}}(?!\d)                             # E.164, maybe URL-encoded (%2B)
      | (?:{_PLUS}(?:\ |%20|\+)?)?                          # or formatted: a prefix,
        (?:{_OPEN}\d{{1,5}}{_CLOSE}{_SEP}?|\d{{1,5}}(?:{_SEP}|(?={_OPEN})))  # groups of digits
        {{1,6}}\d{{1,8}}(?!\w)                              # each followed by a separator
    )
    # A query string's + decoded as a space: `From=+14155550101` read back as `From= 1415...`.
  | (?P<spaced>(?<=[='"])(?:\ |%20)\d{{7,15}}(?!\d))
"""
_SCANNER = re.compile(rf"(?P<keep>{_NOT_PHONES})|(?P<phone>{_PHONES})", re.VERBOSE)
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")  # a URL escape (%20) is punctuation, not digits
# A signed web chat link lets its holder in: its token after /c/ (maybe URL-encoded) and the
# widget's ?kp_chat= (a bare token or a whole link).
_WEBCHAT_TOKEN = re.compile(r"(?<=/c/)[\w.\-]{20,}|(?<=%2[Ff]c%2[Ff])[\w.\-]{20,}")
_KP_CHAT = re.compile(r"(?<![\w%])(kp_chat(?:=|%3[Dd]))(?:[\w.\-~:/]|%(?!26)[0-9A-Fa-f]{2})+")
# A value that looks secret by its parameter's name: ?password=, &access_token=, &sig=, ...
_PARAM = re.compile(r"(?<![\w.\-])([\w.\-]+)=(?!\*\*\*(?![^&\s\"'#]))[^&\s\"'#]+")
_SECRET_NAME = re.compile(
    r"(?:pass(?:word|wd)?|pwd|secret|token|key|signature|sig|credentials?|auth)$", re.IGNORECASE
)
_URL_PASSWORD = re.compile(r"(?<=://)([^:/?#@\s]+):(?!\*\*\*@)[^/?#@\s]+@")  # user:pass@host
# An email address's name; its domain stays, for telling a company's addresses apart.
_EMAIL = re.compile(r"(?<![\w.+\-])(?<!//)[\w.+\-]*\w@(?=[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,})")


def _mask_phone(found: re.Match[str]) -> str:
    text = found.group()
    if found.group("keep") is not None:
        return text
    international = found.group("spaced") is not None or text[:3].upper() == "%2B"
    international = international or text.startswith("+")
    escaped = {at for escape in _ESCAPE.finditer(text) for at in range(*escape.span())}
    places = [at for at, char in enumerate(text) if char.isdigit() and at not in escaped]
    if not (7 if international else 8) <= len(places) <= 15:
        return text  # too short for a phone number (a count, a year), or too long
    chars = list(text)
    for at in places[:-2]:  # punctuation and the last two digits stay
        chars[at] = "*"
    return "".join(chars)


def mask_sensitive(text: str) -> str:
    """The text with what a log must not carry masked: phone numbers (last two digits kept, in
    any of the forms above), web chat tokens, secret-looking query parameters, a URL's password
    and the name in an email address. Every log path uses it: the filter and formatters below,
    gunicorn's logs, the dry-run console and `shown_url`."""
    if any(c.isdigit() for c in text):
        text = _SCANNER.sub(_mask_phone, text)
    if "=" in text:
        text = _PARAM.sub(_mask_secret_param, _KP_CHAT.sub(r"\1<token>", text))
    if "/c" in text or "%2" in text:
        text = _WEBCHAT_TOKEN.sub("<token>", text)
    if "@" in text:
        text = _EMAIL.sub("***@", _URL_PASSWORD.sub(r"\1:***@", text))
    return text


def _mask_secret_param(found: re.Match[str]) -> str:
    return f"{found.group(1)}=***" if _SECRET_NAME.search(found.group(1)) else found.group()


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
    """Masks (`mask_sensitive`) a record's message and its `extra` fields; never drops one.

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
