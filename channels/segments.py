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

`transliterate` is the other way out of UCS-2: it writes what GSM-7 lacks in GSM-7's own
letters (á as a, a curly apostrophe as a straight one) when that makes the whole text GSM-7,
and leaves the text alone when it does not. `count_segments(transliterate(text))` is what
such a text costs once transliterated.
"""

from __future__ import annotations

import unicodedata
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
    "transliterate",
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
_GSM7 = _BASIC | _EXTENSION

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
    """Count the SMS segments `text` takes, and say why if it needs UCS-2.

    The pacer counts every text a worker sends, so the usual case, a short GSM-7 text, is
    settled with set operations, without a look at each character."""
    present = set(text)
    outside = present - _GSM7
    if not outside:
        extended = present & _EXTENSION
        units = len(text) + sum(text.count(char) for char in extended)
        if units <= GSM7_SINGLE:
            return Segments("GSM-7", units, 1, ())
        septets = (2 if char in _EXTENSION else 1 for char in text)
        units, segments = _pack(septets, GSM7_SINGLE, GSM7_PART)
        return Segments("GSM-7", units, segments, ())
    non_gsm = tuple(dict.fromkeys(char for char in text if char in outside))
    code_units = (2 if ord(char) > 0xFFFF else 1 for char in text)
    units, segments = _pack(code_units, UCS2_SINGLE, UCS2_PART)
    return Segments("UCS-2", units, segments, non_gsm)


# Spellings NFKD decomposition does not give (it leaves these characters as they are, or
# turns a spacing accent such as U+00B4 into a space and a combining mark). Where Twilio's
# Smart Encoding lists a character (https://www.twilio.com/docs/messaging/services/
# smart-encoding-char-list), this agrees with it, except for the few the tests name and explain.
_SPELLINGS: tuple[tuple[str, str], ...] = (
    (
        '"',
        "\N{LEFT-POINTING DOUBLE ANGLE QUOTATION MARK}"
        "\N{RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK}"
        "\N{LEFT DOUBLE QUOTATION MARK}\N{RIGHT DOUBLE QUOTATION MARK}"
        "\N{DOUBLE LOW-9 QUOTATION MARK}\N{DOUBLE HIGH-REVERSED-9 QUOTATION MARK}"
        "\N{MODIFIER LETTER DOUBLE PRIME}\N{MODIFIER LETTER DOUBLE APOSTROPHE}"
        "\N{HEAVY DOUBLE TURNED COMMA QUOTATION MARK ORNAMENT}"
        "\N{HEAVY DOUBLE COMMA QUOTATION MARK ORNAMENT}"
        "\N{REVERSED DOUBLE PRIME QUOTATION MARK}\N{DOUBLE PRIME QUOTATION MARK}"
        "\N{LOW DOUBLE PRIME QUOTATION MARK}\N{DOUBLE PRIME}\N{REVERSED DOUBLE PRIME}",
    ),
    (
        "'",
        "\N{LEFT SINGLE QUOTATION MARK}\N{RIGHT SINGLE QUOTATION MARK}"
        "\N{SINGLE HIGH-REVERSED-9 QUOTATION MARK}"
        "\N{SINGLE LEFT-POINTING ANGLE QUOTATION MARK}"
        "\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK}"
        "\N{PRIME}\N{REVERSED PRIME}\N{MODIFIER LETTER PRIME}"
        "\N{MODIFIER LETTER TURNED COMMA}\N{MODIFIER LETTER APOSTROPHE}"
        "\N{MODIFIER LETTER REVERSED COMMA}\N{MODIFIER LETTER VERTICAL LINE}"
        "\N{ACUTE ACCENT}\N{MODIFIER LETTER ACUTE ACCENT}\N{GRAVE ACCENT}"
        "\N{MODIFIER LETTER GRAVE ACCENT}\N{HEAVY SINGLE TURNED COMMA QUOTATION MARK ORNAMENT}"
        "\N{HEAVY SINGLE COMMA QUOTATION MARK ORNAMENT}\N{COMBINING COMMA ABOVE}"
        "\N{COMBINING REVERSED COMMA ABOVE}\N{PRESENTATION FORM FOR VERTICAL COMMA}"
        "\N{PRESENTATION FORM FOR VERTICAL IDEOGRAPHIC COMMA}",
    ),
    (
        "-",
        "\N{HYPHEN}\N{NON-BREAKING HYPHEN}\N{FIGURE DASH}\N{EN DASH}\N{EM DASH}"
        "\N{HORIZONTAL BAR}\N{HYPHEN BULLET}\N{MINUS SIGN}\N{BULLET}"
        "\N{HORIZONTAL SCAN LINE-7}\N{HORIZONTAL SCAN LINE-9}",
    ),
    (
        "/",
        "\N{FRACTION SLASH}\N{DIVISION SLASH}\N{DIVISION SIGN}\N{BIG SOLIDUS}"
        "\N{COMBINING SHORT SOLIDUS OVERLAY}\N{COMBINING LONG SOLIDUS OVERLAY}",
    ),
    (
        "\\",
        "\N{BIG REVERSE SOLIDUS}\N{REVERSE SOLIDUS OPERATOR}\N{COMBINING REVERSE SOLIDUS OVERLAY}",
    ),
    ("_", "\N{COMBINING LOW LINE}\N{DOUBLE LOW LINE}"),
    (
        "|",
        "\N{COMBINING LONG VERTICAL LINE OVERLAY}\N{COMBINING SHORT VERTICAL LINE OVERLAY}"
        "\N{DIVIDES}\N{LEFT VERTICAL BOX LINE}\N{RIGHT VERTICAL BOX LINE}"
        "\N{VERTICAL LINE EXTENSION}\N{LEFT PARENTHESIS EXTENSION}"
        "\N{RIGHT PARENTHESIS EXTENSION}",
    ),
    ("!", "\N{LATIN LETTER RETROFLEX CLICK}"),
    (",", "\N{SINGLE LOW-9 QUOTATION MARK}\N{COMBINING COMMA BELOW}\N{IDEOGRAPHIC COMMA}"),
    (
        "(",
        "\N{MEDIUM LEFT PARENTHESIS ORNAMENT}\N{MEDIUM FLATTENED LEFT PARENTHESIS ORNAMENT}"
        "\N{MATHEMATICAL LEFT FLATTENED PARENTHESIS}\N{LEFT WHITE PARENTHESIS}",
    ),
    (
        ")",
        "\N{MEDIUM RIGHT PARENTHESIS ORNAMENT}\N{MEDIUM FLATTENED RIGHT PARENTHESIS ORNAMENT}"
        "\N{MATHEMATICAL RIGHT FLATTENED PARENTHESIS}\N{RIGHT WHITE PARENTHESIS}",
    ),
    (
        "*",
        "\N{LOW ASTERISK}\N{ASTERISK OPERATOR}\N{CIRCLED ASTERISK OPERATOR}"
        "\N{FOUR TEARDROP-SPOKED ASTERISK}\N{FOUR BALLOON-SPOKED ASTERISK}"
        "\N{HEAVY FOUR BALLOON-SPOKED ASTERISK}\N{FOUR CLUB-SPOKED ASTERISK}"
        "\N{HEAVY ASTERISK}\N{OPEN CENTRE ASTERISK}\N{EIGHT SPOKED ASTERISK}"
        "\N{SIXTEEN POINTED ASTERISK}\N{TEARDROP-SPOKED ASTERISK}"
        "\N{OPEN CENTRE TEARDROP-SPOKED ASTERISK}\N{HEAVY TEARDROP-SPOKED ASTERISK}"
        "\N{HEAVY TEARDROP-SPOKED PINWHEEL ASTERISK}\N{BALLOON-SPOKED ASTERISK}"
        "\N{EIGHT TEARDROP-SPOKED PROPELLER ASTERISK}"
        "\N{HEAVY EIGHT TEARDROP-SPOKED PROPELLER ASTERISK}\N{SQUARED ASTERISK}",
    ),
    ("+", "\N{MODIFIER LETTER PLUS SIGN}"),
    (".", "\N{IDEOGRAPHIC FULL STOP}"),
    (
        ":",
        "\N{MODIFIER LETTER TRIANGULAR COLON}\N{MODIFIER LETTER RAISED COLON}"
        "\N{Z NOTATION TYPE COLON}\N{MODIFIER LETTER COLON}",
    ),
    (";", "\N{REVERSED SEMICOLON}"),
    ("=", "\N{COMBINING EQUALS SIGN BELOW}\N{MODIFIER LETTER SHORT EQUALS SIGN}"),
    (
        "^",
        "\N{MODIFIER LETTER CIRCUMFLEX ACCENT}\N{COMBINING CIRCUMFLEX ACCENT}"
        "\N{COMBINING DOUBLE CIRCUMFLEX ABOVE}",
    ),
    (
        "~",
        "\N{SMALL TILDE}\N{MODIFIER LETTER LOW TILDE}\N{COMBINING TILDE}"
        "\N{COMBINING TILDE BELOW}\N{COMBINING TILDE OVERLAY}\N{TILDE OPERATOR}",
    ),
    ("{", "\N{MEDIUM LEFT CURLY BRACKET ORNAMENT}"),
    ("}", "\N{MEDIUM RIGHT CURLY BRACKET ORNAMENT}"),
    (" ", "\t"),
    ("\n", "\N{LINE SEPARATOR}\N{PARAGRAPH SEPARATOR}"),
    # Invisible: a zero-width space or a soft hyphen pasted in from elsewhere.
    (
        "",
        "\N{ZERO WIDTH SPACE}\N{ZERO WIDTH NON-JOINER}\N{ZERO WIDTH JOINER}"
        "\N{WORD JOINER}\N{ZERO WIDTH NO-BREAK SPACE}\N{SOFT HYPHEN}",
    ),
    # Latin letters that are not a letter plus an accent, so NFKD keeps them whole.
    ("oe", "\N{LATIN SMALL LIGATURE OE}"),
    ("OE", "\N{LATIN CAPITAL LIGATURE OE}"),
    ("l", "\N{LATIN SMALL LETTER L WITH STROKE}\N{LATIN SMALL LETTER L WITH MIDDLE DOT}"),
    ("L", "\N{LATIN CAPITAL LETTER L WITH STROKE}\N{LATIN CAPITAL LETTER L WITH MIDDLE DOT}"),
    ("d", "\N{LATIN SMALL LETTER D WITH STROKE}\N{LATIN SMALL LETTER ETH}"),
    ("D", "\N{LATIN CAPITAL LETTER D WITH STROKE}\N{LATIN CAPITAL LETTER ETH}"),
    ("th", "\N{LATIN SMALL LETTER THORN}"),
    ("TH", "\N{LATIN CAPITAL LETTER THORN}"),
    ("i", "\N{LATIN SMALL LETTER DOTLESS I}"),
    ("h", "\N{LATIN SMALL LETTER H WITH STROKE}"),
    ("H", "\N{LATIN CAPITAL LETTER H WITH STROKE}"),
    # Small capitals, as Twilio writes them.
    *(
        (letter, unicodedata.lookup(f"LATIN LETTER SMALL CAPITAL {letter}"))
        for letter in "ABCDEFGHIJKLMNOPRSTUVWYZ"
    ),
)
_SPELLING = {char: spelling for spelling, chars in _SPELLINGS for char in chars}


def _spell(char: str) -> str | None:
    """`char` in GSM-7: itself, a spelling from the table, or its NFKD decomposition without
    accents; None when none of these is GSM-7."""
    if is_gsm7(char):
        return char
    if char in _SPELLING:
        return _SPELLING[char]
    if unicodedata.category(char) == "Zs":  # no-break, thin, ideographic ... spaces
        return " "
    if unicodedata.combining(char):  # an accent its letter could not take: dropped, as á's is
        return ""
    base = [c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)]
    if not base or "".join(base).isspace():  # a spacing accent (¨ is a space and U+0308)
        return None
    parts = [c if is_gsm7(c) else _SPELLING.get(c) for c in base]
    return None if None in parts else "".join(p for p in parts if p is not None)


def transliterate(text: str) -> str:
    """`text` with every character GSM-7 lacks written in GSM-7 (á as a, ç as c, œ as oe,
    curly quotes as straight ones, an en or em dash as -, an ellipsis as ..., a no-break
    space as a space), or `text` unchanged when that cannot make all of it GSM-7.

    Letters GSM-7 has stay as they are: é è ñ ü à ì ò ù Ç ¿ ¡ ... so Spanish "año" keeps its
    ñ and French "été" its é. The price is paid by the letters it lacks: a reader sees "a"
    for "á" and Portuguese "não" reads "nao". Spanish and French stay easy to read that way
    and every reader knows the convention from old phones; in exchange a text keeps GSM-7's
    160 characters a segment instead of UCS-2's 70, which halves what many sends cost.

    All or nothing: one character with no GSM-7 spelling (an emoji, Greek lowercase, Cyrillic,
    CJK, a customer's name in Arabic) makes the whole text UCS-2 anyway, and UCS-2 carries
    every accent, so stripping the others would lose letters and save nothing.

    The text is put in NFC first, so an é typed as e plus a combining accent is the GSM-7 é.
    Then each character is kept if it is GSM-7, else spelled from an explicit table (quotes,
    dashes, œ, ł and what else NFKD leaves whole), else from its NFKD decomposition without
    combining marks (accented letters, ligatures such as ﬁ, full-width forms, ½ as 1/2).
    Transliterating twice gives the same text as once.
    """
    spelled = [_spell(char) for char in unicodedata.normalize("NFC", text)]
    if None in spelled:
        return text
    return "".join(part for part in spelled if part is not None)


def _name(char: str) -> str:
    code = f"U+{ord(char):04X}"
    return f"{char} {code}" if char.isprintable() and not char.isspace() else code


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def describe(s: Segments, *, transliterated: bool = False) -> str:
    """One human line, e.g. "2 segments, GSM-7, 210 septets" or
    "1 segment, UCS-2 (because of U+2019), 64 units" (each character is shown
    before its code point when it is printable). `transliterated` says the count is of the
    text `transliterate` made: "1 segment, GSM-7 after transliteration, 96 septets"."""
    unit = "septet" if s.encoding == "GSM-7" else "unit"
    encoding = s.encoding + (" after transliteration" if transliterated else "")
    if s.non_gsm:
        names = [_name(char) for char in s.non_gsm[:_DESCRIBE_MAX_CHARS]]
        more = len(s.non_gsm) - _DESCRIBE_MAX_CHARS
        if more > 0:
            names.append(f"and {more} more")
        encoding += f" (because of {', '.join(names)})"
    return f"{_plural(s.segments, 'segment')}, {encoding}, {_plural(s.units, unit)}"
