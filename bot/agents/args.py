"""Reading `/case` arguments the way Slack sends them.

Slack escapes `&`, `<` and `>` in command text and wraps what it recognises in angle brackets:
user mentions `<@U123|ana>`, channels `<#C123|support>`, links `<https://x|x>`, `<tel:...|...>`
and `<mailto:...|...>`. Agents also type "smart" quotes from their phones and phone numbers in
every national format. This module turns that into plain words, ids and values; anything it
cannot read raises `UsageError`, which the command answers with the subcommand's usage line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dateparser
import phonenumbers

from bot.durations import parse_duration, parse_when
from bot.errors import InvalidInput
from bot.phones import to_e164
from bot.unstorable import unstorable
from channels.catalog import ChannelName

USER_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|([^>]*))?>")
BARE_USER_ID = re.compile(r"^@?([UW][A-Z0-9]{6,})$")
_ANGLED = re.compile(r"<([^<>]*)>")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "＂": '"'})
# A word, or a phrase in "double" or 'single' quotes (as the usage lines show `--name 'Ana'`). A
# single quote only opens at the start of a word and closes at the end of one, so apostrophes
# (`isn't`, `it’s`) are left alone.
_SINGLE = r"(?<!\S)['‘]((?:(?!['’](?:\s|$)).)*)['’](?!\S)"
_TOKEN = re.compile(r'"([^"]*)"|' + _SINGLE + r"|(\S+)")
_WHOLLY_QUOTED = re.compile(r'"([^"]*)"|' + _SINGLE)
_OPTION = re.compile(r"--[A-Za-z][\w-]*(?:=.*)?", re.DOTALL)
_PHONE_WORD = re.compile(r"[+(]*\d[\d().\-/]*")
MAX_DURATION = timedelta(days=3650)
_CASE_REF = re.compile(r"^#?(\d{1,18})$")


class UsageError(Exception):
    """The arguments do not fit the subcommand; the message says what is wrong."""


def too_long(text: str, limit: int) -> str | None:
    """What is wrong with an agent's text longer than `limit` characters, or None."""
    if len(text) <= limit:
        return None
    return f"the text is {len(text)} characters long: at most {limit} are sent"


def untypable(text: str) -> str | None:
    """What is wrong with an agent's text that holds a character no keyboard types, or None."""
    problem = unstorable(text)
    if problem is None:
        return None
    return (
        f"the text holds {problem}, which no keyboard types: only text, tabs and line breaks"
        " can be kept"
    )


def clean(text: str) -> str:
    """Slack's markup back to what the agent typed; user mentions stay as `<@U123|name>`."""

    def plain(match: re.Match[str]) -> str:
        inner = match.group(1)
        if USER_MENTION.fullmatch(match.group(0)):
            return match.group(0)
        target, _, label = inner.partition("|")
        if target.startswith(("#C", "#G", "!")):
            return label or target  # a channel or special mention: its name, never a ping
        for scheme in ("tel:", "mailto:"):
            if target.startswith(scheme):
                return label or target.removeprefix(scheme)
        return label or target

    text = _ANGLED.sub(plain, text.translate(_QUOTES))
    # Unescape last, so an agent's literal "&lt;" never becomes markup.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


@dataclass(frozen=True)
class Token:
    text: str  # without its quotes
    start: int
    end: int


@dataclass
class Words:
    """A command line split into words, keeping the raw text so free text stays as typed."""

    line: str
    tokens: list[Token]

    @classmethod
    def of(cls, text: str) -> Words:
        return cls._split(clean(text))

    @classmethod
    def _split(cls, line: str) -> Words:
        tokens = [
            Token(next(g for g in m.groups() if g is not None), m.start(), m.end())
            for m in _TOKEN.finditer(line)
        ]
        return cls(line, tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def word(self, index: int) -> str | None:
        return self.tokens[index].text if index < len(self.tokens) else None

    def rest(self, index: int) -> str:
        """Everything from word `index` on, as typed, with mentions as `@name`; one wholly quoted
        phrase loses its quotes. This is free text: an update, a note, a resolution."""
        if index >= len(self.tokens):
            return ""
        return unquote(USER_MENTION.sub(_as_name, self.line[self.tokens[index].start :]))

    def take_options(self, names: tuple[str, ...], *, repeatable: tuple[str, ...] = ()) -> Options:
        """Pull `--name value` / `--name=value` out from anywhere; the rest keeps its order."""
        found: dict[str, list[str]] = {}
        cuts: list[tuple[int, int]] = []
        index = 0
        while index < len(self.tokens):
            token = self.tokens[index]
            quoted = self.line[token.start] in "\"'‘"
            if quoted or not _OPTION.fullmatch(token.text):  # `--` in free text is no option
                index += 1
                continue
            start = token.start
            name, equals, value = token.text[2:].partition("=")
            name = name.lower().replace("-", "_")
            if name not in names:
                allowed = ", ".join(f"--{n}" for n in names) or "none"
                raise UsageError(
                    f"unknown option --{name} (allowed: {allowed}); "
                    'put text that has "--" in it in quotes'
                )
            if not equals:
                index += 1
                if index >= len(self.tokens):
                    raise UsageError(f"--{name} needs a value")
                value = self.tokens[index].text
            if name in found and name not in repeatable:
                raise UsageError(f"--{name} is given twice")
            found.setdefault(name, []).append(value.strip())
            cuts.append((start, self.tokens[index].end))
            index += 1
        # Free text keeps its own spacing: cut the options out of the line and split it again.
        line = self.line
        for start, end in reversed(cuts):
            line = line[:start].rstrip() + " " + line[end:].lstrip()
        split = Words._split(line.strip())
        self.line, self.tokens = split.line, split.tokens
        return Options(found)


def _as_name(mention: re.Match[str]) -> str:
    return "@" + (mention.group(2) or mention.group(1))


@dataclass
class Options:
    values: dict[str, list[str]]

    def one(self, name: str) -> str | None:
        return self.values.get(name, [None])[0]

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])


def unquote(text: str) -> str:
    """One wholly quoted phrase loses its quotes: `"Router keeps dropping"`, `'Ana Gomez'`."""
    text = text.strip()
    whole = _WHOLLY_QUOTED.fullmatch(text)
    if whole:
        return next(g for g in whole.groups() if g is not None).strip()
    return text


def is_case_number(word: str) -> bool:
    """`12` or `#12`: a case's number (anything else may be a ref or a subcommand)."""
    return bool(_CASE_REF.match(word))


def case_id(word: str | None) -> int | str:
    """`#1042` or `1042` is a case id; anything else is read as the case's external ref."""
    if not word:
        raise UsageError("say which case: its number, like #1042, or its ref")
    match = _CASE_REF.match(word)
    return int(match.group(1)) if match else word


def user_id(word: str | None) -> str:
    """A Slack user from a mention (`<@U123|ana>`) or a bare id (`U0123ABCD`)."""
    if not word:
        raise UsageError("say who: mention them, like @ana")
    mention = USER_MENTION.fullmatch(word)
    if mention:
        return mention.group(1)
    bare = BARE_USER_ID.match(word)
    if bare:
        return bare.group(1)
    raise UsageError(f"{word!r} is not a Slack user: mention them, like @ana")


def leading_phone(text: str, region: str) -> tuple[str, str] | None:
    """A phone number at the start of `text` in any common format, and the text after it.

    The number is the longest run of leading number-like words that makes a valid number (else a
    possible one), so a subject may start with a number: `(415) 555-0101 3 lines down`."""
    words: list[re.Match[str]] = []
    for word in re.finditer(r"\S+", text):
        if len(words) == 8 or not _PHONE_WORD.fullmatch(word.group()):
            break
        words.append(word)
    possible = None
    for word in reversed(words):
        raw = text[: word.end()]
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            possible = raw
            break
        if possible is None and phonenumbers.is_possible_number(number):
            possible = raw
    if possible is None:
        return None
    return to_e164(possible, region), text[len(possible) :].strip()


def priority(word: str) -> str:
    """`P2`, `p2` or `2`."""
    cleaned = word.strip().upper().removeprefix("P")
    if cleaned in {"1", "2", "3", "4"}:
        return f"P{cleaned}"
    raise UsageError(f"priority must be P1, P2, P3 or P4 (got {word!r})")


def duration(text: str) -> timedelta:
    try:
        length = parse_duration(text.removeprefix("every ").strip())
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OverflowError:  # more days than a timedelta holds
        length = timedelta.max
    if length > MAX_DURATION:
        raise UsageError(f"{text.strip()!r} is too long: at most 3650d")
    return length


def moment(text: str, now: datetime, zone: str) -> datetime:
    """When an agent says: `2h`, `in 3d`, `2026-11-24 15:00`, `tomorrow 3pm`, `friday 10:00`.

    Times without a zone are read in `zone` (the operation's time zone)."""
    if not text.strip():
        raise UsageError("say when: a date and time like `tomorrow 3pm` or a duration like `2h`")
    if re.fullmatch(r"\s*[+-]?\d+\s*", text):  # dateparser would read `12` as December
        raise UsageError(f"{text.strip()!r} needs a unit or a time, like `{text.strip()}h`")
    try:
        return parse_when(text, now, zone)
    except ValueError:
        pass
    except OverflowError:  # a time past the year 9999
        raise UsageError(f"{text!r} is too far in the future") from None
    local_now = now.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    found = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": local_now,
            "TIMEZONE": zone,
            "RETURN_AS_TIMEZONE_AWARE": True,
            "TO_TIMEZONE": "UTC",
        },
    )
    if found is None:
        raise UsageError(
            f"cannot read {text!r} as a time: try `tomorrow 3pm`, `2026-11-24 15:00` or `4h`"
        )
    when: datetime = found.astimezone(UTC)
    return when


def phone_or_user(words: Words, index: int, region: str) -> tuple[dict[str, str], str]:
    """The customer of `/case new`: a mention or a phone number, and the text after it."""
    first = words.word(index)
    if first and (USER_MENTION.fullmatch(first) or BARE_USER_ID.match(first)):
        return {"slack_user_id": user_id(first), "channel": ChannelName.SLACK}, words.rest(
            index + 1
        )
    try:
        found = leading_phone(words.rest(index), region)
    except InvalidInput as exc:
        raise UsageError(exc.message) from None
    if found is None:
        raise UsageError("start with the customer: a phone number like +1 415 555 0101, or @user")
    phone, rest = found
    return {"phone": phone, "channel": ChannelName.SMS}, unquote(rest)
