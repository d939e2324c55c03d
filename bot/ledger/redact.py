"""Redaction of log exports: phone numbers and contacts' names masked in an entry's detail.

Only the detail is masked, so an entry's hash, time, event and case number stay
(bot/ledger/export.py marks the changed entries, which `log verify FILE` then checks by linkage
only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Contact

NAME_KEYS = frozenset(
    {"name", "first_name", "last_name", "full_name", "display_name", "contact_name"}
    | {"customer_name"}
)
PHONE_KEYS = frozenset({"phone", "phone_number", "mobile", "msisdn"})
NAME_MASK = "[name]"
MIN_PHONE_DIGITS = 8

_WORD = re.compile(r"\w+(?:['’-]\w+)*")
_DIGIT_RUN = re.compile(r"(?<!\d)\+?\d{6,}(?!\d)")
# A number as people write one: +1 (415) 555-0101, 415.555.0101, +44 20 7946 0958. Not inside a
# word or a hash, not after `#` (a case number) or `-` (a ticket ref), not before `:` (a time).
_PHONE = re.compile(r"(?<![\w#+\-./:])[+(]?\d[\d ().\-]{5,}\d(?![\w:]|[.\-/]\d)")
_NOT_A_PHONE = re.compile(
    r"\d+\.\d+"  # a decimal: an amount or a Slack ts
    r"|\d{4}-\d{1,2}-\d{1,2}"  # an ISO date
    r"|\d{1,2}[./-]\d{1,2}[./-]\d{4}"  # a written date
)
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ][\d:.]+)?([+-]\d{2}:\d{2}|Z)?")


def phone_mask(text: str) -> str:
    """`[phone ••01]`: a phone number masked but for its last two digits."""
    digits = re.sub(r"\D", "", text)
    return f"[phone ••{digits[-2:]}]"


class Redactor:
    """Masks phone numbers and contacts' names in an entry's detail, for sharing outside the team.

    Phones: every contact's number (E.164 or national digits, even run into other text) and any
    written number of 8 digits or more. Names: every contact's full name, whole words in any case,
    and also one word of a longer name (`Maria` of Maria Gomez) where it is written as a name,
    capitalised: in any case, a contact called Will Hope would mask every `will`. Hashes, times,
    Slack ts, case numbers and refs are left alone.
    """

    def __init__(self, names: Iterable[str], phones: Iterable[str]) -> None:
        self.names: set[tuple[str, ...]] = set()
        self.name_words: set[str] = set()
        for name in names:
            words = tuple(w.casefold() for w in _WORD.findall(name))
            if words:
                self.names.add(words)
            if len(words) > 1:
                self.name_words.update(w for w in words if w.isalpha() and len(w) > 1)
        self.longest = max((len(n) for n in self.names), default=0)
        self.phone_digits: set[str] = set()
        for phone in phones:
            self.phone_digits.update(_phone_variants(phone))

    @classmethod
    def from_contacts(cls, session: Session) -> Redactor:
        """A redactor for the names and phone numbers of every contact in the database."""
        rows = session.execute(select(Contact.name, Contact.phone)).all()
        return cls([n for n, _ in rows if n], [p for _, p in rows if p])

    def detail(self, detail: Any) -> tuple[Any, list[str]]:
        """The detail with its strings masked, and the paths (`words`, `a.b[2]`) it changed."""
        masked: list[str] = []
        return self._walk(detail, "", None, masked), masked

    def _walk(self, value: Any, path: str, key: str | None, masked: list[str]) -> Any:
        if isinstance(value, dict):
            return {
                k: self._walk(v, f"{path}.{k}" if path else str(k), str(k).casefold(), masked)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._walk(v, f"{path}[{i}]", None, masked) for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value
        if key in NAME_KEYS and value.strip():
            new = NAME_MASK
        elif key in PHONE_KEYS and any(c.isdigit() for c in value):
            new = phone_mask(value)
        else:
            new = self.text(value)
        if new != value:
            masked.append(path)
        return new

    def text(self, text: str) -> str:
        """The text with contacts' names and phone numbers masked."""
        if _ISO_TIME.fullmatch(text.strip()):
            return text
        text = self._mask_names(text)
        text = _DIGIT_RUN.sub(self._contact_phone, text)
        return _PHONE.sub(_written_phone, text)

    def _contact_phone(self, match: re.Match[str]) -> str:
        digits = match.group().lstrip("+")
        return phone_mask(digits) if digits in self.phone_digits else match.group()

    def _mask_names(self, text: str) -> str:
        words = list(_WORD.finditer(text))
        pieces, cursor, i = [], 0, 0
        while i < len(words):
            found = self._name_at(text, words, i)
            if found:
                n, end = found
                pieces += [text[cursor : words[i].start()], NAME_MASK]
                cursor, i = end, i + n
            else:
                i += 1
        return "".join([*pieces, text[cursor:]])

    def _name_at(self, text: str, words: list[re.Match[str]], i: int) -> tuple[int, int] | None:
        """How many words from `i` on are a contact's name, and where the name ends."""
        for n in range(min(self.longest, len(words) - i), 0, -1):
            run = words[i : i + n]
            if not all(text[a.end() : b.start()].isspace() for a, b in pairwise(run)):
                continue
            first = tuple(w.group().casefold() for w in run[:-1])
            for last, end in _forms(run[-1]):
                if (*first, last) in self.names:
                    return n, end
        if words[i].group()[0].isupper():
            for form, end in _forms(words[i]):
                if form in self.name_words:
                    return 1, end
        return None


def _forms(word: re.Match[str]) -> list[tuple[str, int]]:
    """A word as written and without a possessive `'s`, each with where it ends."""
    text = word.group().casefold()
    forms = [(text, word.end())]
    if len(text) > 2 and text[-2:] in ("'s", "’s"):
        forms.append((text[:-2], word.end() - 2))
    return forms


def _phone_variants(phone: str) -> set[str]:
    """A contact's number as digit runs to look for: all its digits, and its national number."""
    try:
        national = str(phonenumbers.parse(phone, None).national_number)
    except phonenumbers.NumberParseException:
        national = ""
    return {v for v in (re.sub(r"\D", "", phone), national) if len(v) >= 6}


def _written_phone(match: re.Match[str]) -> str:
    text = match.group()
    too_short = sum(c.isdigit() for c in text) < MIN_PHONE_DIGITS
    return text if too_short or _NOT_A_PHONE.fullmatch(text.strip("()")) else phone_mask(text)
