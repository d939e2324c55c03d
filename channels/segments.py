"""SMS segment counting: how many messages a carrier bills for one text.

Carriers bill (and rate-limit) SMS per segment, not per message. A text is sent in
the GSM 03.38 7-bit default alphabet (3GPP TS 23.038) when every character is in it:
then one message holds 160 septets, and a longer text is split into parts of 153
septets each (the other 7 carry the concatenation header). Characters from the
extension table (form feed, ^ { } \\ [ ~ ] | and the euro sign) cost two septets: an
escape plus the character.

A single character outside that alphabet (a curly apostrophe pasted from a word
processor, an em dash, an ellipsis, an accent the table lacks such as e-circumflex,
any emoji) turns the *whole* message into UCS-2: 16-bit code units, 70 per single
message and 67 per part. A 150-character template that was one segment becomes
three, tripling what every send of it costs. `count_segments` says which encoding a
text gets, how many segments it takes and which characters forced UCS-2;
`describe` turns that into the one line `keepposted config check` prints.

Splitting follows what handsets and gateways do: an escape pair is never split across
two parts, and neither is a UTF-16 surrogate pair (a character outside the Basic
Multilingual Plane, e.g. most emoji); if it does not fit in what is left of a part, it
starts the next one. Splitting is per code point, not per grapheme, as on the wire.

Empty text counts as 0 units and 1 segment: a carrier still sends (and bills) one
message for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "GSM7_PART",
    "GSM7_SINGLE",
    "UCS2_PART",
    "UCS2_SINGLE",
    "Segments",
    "count_segments",
    "describe",
    "is_gsm7",
]

# The GSM 03.38 default alphabet, indexed by septet value 0x00..0x7F. 0x1B is ESC,
# the escape to the extension table: it is not a printable character, so it is not
# counted as part of the alphabet. 0x09 is Ç (capital), per TS 23.038; ç is not GSM.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"  # 0x10
    " !\"#¤%&'()*+,-./"  # 0x20
    "0123456789:;<=>?"  # 0x30
    "¡ABCDEFGHIJKLMNO"  # 0x40
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50
    "¿abcdefghijklmno"  # 0x60
    "pqrstuvwxyzäöñüà"  # 0x70
)

# The extension table: each of these is sent as ESC + septet, i.e. two septets.
# Form feed 0x0A, ^ 0x14, { 0x28, } 0x29, \ 0x2F, [ 0x3C, ~ 0x3D, ] 0x3E, | 0x40, € 0x65.
GSM7_EXTENSION = "\f^{}\\[~]|€"

GSM7_SINGLE = 160  # septets in a single (unsplit) GSM-7 message
GSM7_PART = 153  # septets per part of a concatenated GSM-7 message
UCS2_SINGLE = 70  # UTF-16 code units in a single UCS-2 message
UCS2_PART = 67  # UTF-16 code units per part of a concatenated UCS-2 message

_ESC = "\x1b"
_BASIC = frozenset(GSM7_BASIC) - {_ESC}
_EXTENSION = frozenset(GSM7_EXTENSION)

_DESCRIBE_MAX_CHARS = 5  # non-GSM characters named by describe() before "and N more"


@dataclass(frozen=True)
class Segments:
    """How a text goes over SMS."""

    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    non_gsm: tuple[str, ...]  # distinct characters that forced UCS-2, in order of first appearance


def _pack(sizes: Iterable[int], single: int, part: int) -> tuple[int, int]:
    """Return (total units, segments) for characters of the given unit sizes.

    A text of at most `single` units is one segment. Otherwise parts of `part` units are
    filled greedily, and a character never straddles two parts.
    """
    sizes = list(sizes)
    total = sum(sizes)
    if total <= single:
        return total, 1
    segments, room = 1, part
    for size in sizes:
        if size > room:
            segments += 1
            room = part
        room -= size
    return total, segments


def is_gsm7(char: str) -> bool:
    """True if `char` (one character) is in the GSM 03.38 basic or extension table."""
    return char in _BASIC or char in _EXTENSION


def count_segments(text: str) -> Segments:
    """Count the SMS segments `text` takes, and say why if it needs UCS-2."""
    non_gsm = tuple(dict.fromkeys(char for char in text if not is_gsm7(char)))
    if not non_gsm:
        septets = (2 if char in _EXTENSION else 1 for char in text)
        units, segments = _pack(septets, GSM7_SINGLE, GSM7_PART)
        return Segments("GSM-7", units, segments, ())
    code_units = (2 if ord(char) > 0xFFFF else 1 for char in text)
    units, segments = _pack(code_units, UCS2_SINGLE, UCS2_PART)
    return Segments("UCS-2", units, segments, non_gsm)


def _name(char: str) -> str:
    code = f"U+{ord(char):04X}"
    return f"{char} {code}" if char.isprintable() and not char.isspace() else code


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def describe(s: Segments) -> str:
    """One human line, e.g. "2 segments, GSM-7, 210 septets" or
    "1 segment, UCS-2 (because of U+2019), 64 units" (each character is shown
    before its code point when it is printable)."""
    unit = "septet" if s.encoding == "GSM-7" else "unit"
    encoding = s.encoding
    if s.non_gsm:
        names = [_name(char) for char in s.non_gsm[:_DESCRIBE_MAX_CHARS]]
        more = len(s.non_gsm) - _DESCRIBE_MAX_CHARS
        if more > 0:
            names.append(f"and {more} more")
        encoding += f" (because of {', '.join(names)})"
    return f"{_plural(s.segments, 'segment')}, {encoding}, {_plural(s.units, unit)}"
