"""channels.segments: GSM 03.38 tables, GSM-7 and UCS-2 counts, the no-split rules, describe."""

from __future__ import annotations

import dataclasses

import pytest

from channels.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    Segments,
    count_segments,
    describe,
    is_gsm7,
)

EMOJI = "\U0001f600"  # grinning face, outside the BMP: a surrogate pair in UTF-16
CYRILLIC = "ж"  # in the BMP but not GSM: one UCS-2 unit

# Every printable character of the 3GPP TS 23.038 basic table, written out independently.
BASIC_PRINTABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = "\f^{}\\[~]|€"


# --- the tables -----------------------------------------------------------------------


def test_basic_table_has_128_positions_with_esc_at_0x1b() -> None:
    assert len(GSM7_BASIC) == 128
    assert len(set(GSM7_BASIC)) == 128
    assert GSM7_BASIC[0x1B] == "\x1b"


@pytest.mark.parametrize(
    ("position", "char"),
    [
        (0x00, "@"),
        (0x01, "£"),
        (0x02, "$"),
        (0x03, "¥"),
        (0x09, "Ç"),
        (0x0A, "\n"),
        (0x0D, "\r"),
        (0x10, "Δ"),
        (0x11, "_"),
        (0x1F, "É"),
        (0x20, " "),
        (0x24, "¤"),
        (0x40, "¡"),
        (0x41, "A"),
        (0x5F, "§"),
        (0x60, "¿"),
        (0x61, "a"),
        (0x7F, "à"),
    ],
)
def test_basic_table_positions(position: int, char: str) -> None:
    assert GSM7_BASIC[position] == char


def test_basic_table_matches_the_spec() -> None:
    assert set(GSM7_BASIC) - {"\x1b"} == set(BASIC_PRINTABLE)
    assert len(BASIC_PRINTABLE) == 127


def test_extension_table_matches_the_spec() -> None:
    assert set(GSM7_EXTENSION) == set(EXTENSION)
    assert len(GSM7_EXTENSION) == 10
    assert not set(GSM7_EXTENSION) & set(GSM7_BASIC)


@pytest.mark.parametrize("char", list(BASIC_PRINTABLE))
def test_every_basic_char_is_one_septet(char: str) -> None:
    assert is_gsm7(char)
    assert count_segments(char) == Segments("GSM-7", 1, 1, ())


@pytest.mark.parametrize("char", list(EXTENSION))
def test_every_extension_char_is_two_septets(char: str) -> None:
    assert is_gsm7(char)
    assert count_segments(char) == Segments("GSM-7", 2, 1, ())
    assert count_segments("a" + char + "b").units == 4


def test_whole_basic_table_in_one_text() -> None:
    result = count_segments(BASIC_PRINTABLE)
    assert result == Segments("GSM-7", 127, 1, ())


def test_whole_extension_table_in_one_text() -> None:
    assert count_segments(EXTENSION) == Segments("GSM-7", 20, 1, ())


@pytest.mark.parametrize(
    "char",
    [
        "ç",  # only the capital Ç is in the table
        "ê",
        "á",
        "í",
        "ó",
        "ú",
        "â",
        "õ",
        "Ê",
        "È",
        "À",
        "’",  # curly apostrophe
        "‘",
        "“",
        "”",
        "—",  # em dash
        "–",  # en dash
        "…",
        "`",
        "\t",
        "\x1b",  # ESC is the escape, not a character of the alphabet
        "\xa0",  # no-break space
        "\u200b",  # zero-width space
        "\u2126",  # OHM SIGN U+2126, not the Greek capital omega U+03A9 that GSM has
        "α",
        "λ",
        "π",
        "¢",
        "©",
        "•",
        "ж",
        EMOJI,
    ],
)
def test_non_gsm_chars(char: str) -> None:
    assert not is_gsm7(char)
    result = count_segments("Hi " + char)
    assert result.encoding == "UCS-2"
    assert result.non_gsm == (char,)


# --- GSM-7 counts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "segments"),
    [
        (1, 1),
        (70, 1),
        (71, 1),
        (159, 1),
        (160, 1),
        (161, 2),
        (305, 2),
        (306, 2),
        (307, 3),
        (459, 3),
        (460, 4),
    ],
)
def test_gsm7_plain_lengths(length: int, segments: int) -> None:
    assert count_segments("a" * length) == Segments("GSM-7", length, segments, ())


@pytest.mark.parametrize(
    ("count", "septets", "segments"),
    [
        (1, 2, 1),
        (80, 160, 1),
        (81, 162, 2),
        (153, 306, 3),  # 76 + 76 + 1 euros: 153 is odd, so every part wastes one septet
        (152, 304, 2),
    ],
)
def test_gsm7_extension_lengths(count: int, septets: int, segments: int) -> None:
    assert count_segments("€" * count) == Segments("GSM-7", septets, segments, ())


def test_extension_char_filling_a_single_message_exactly() -> None:
    assert count_segments("a" * 158 + "€") == Segments("GSM-7", 160, 1, ())
    assert count_segments("a" * 159 + "€") == Segments("GSM-7", 161, 2, ())


def test_escape_pair_is_not_split_across_parts() -> None:
    # 152 'a' leave one septet in part 1; the euro needs two, so it starts part 2.
    text = "a" * 152 + "€" + "a" * 152
    # 306 septets would be 2 parts of 153 if the pair could be split; it can't:
    # part 1 = 152 'a', part 2 = € + 151 'a' (153), part 3 = 1 'a'.
    assert count_segments(text) == Segments("GSM-7", 306, 3, ())


def test_escape_pair_fitting_exactly_at_the_end_of_a_part() -> None:
    # 151 'a' + euro fill part 1 exactly (153); the rest goes in part 2.
    text = "a" * 151 + "€" + "a" * 153
    assert count_segments(text) == Segments("GSM-7", 306, 2, ())


def test_escape_pair_pushed_into_next_part_with_little_after_it() -> None:
    text = "a" * 152 + "€" + "a" * 7  # 161 septets: multipart either way
    assert count_segments(text) == Segments("GSM-7", 161, 2, ())


def test_mixed_gsm_text() -> None:
    text = "Your case #123 is {closed}. Price: 5€ [ok]"
    result = count_segments(text)
    assert result.encoding == "GSM-7"
    assert result.units == len(text) + 5  # { } € [ ]
    assert result.segments == 1


# --- UCS-2 counts ---------------------------------------------------------------------


def test_one_curly_apostrophe_makes_the_whole_message_ucs2() -> None:
    plain = "We’re on it" + "." * 60  # 71 chars: one GSM segment, two UCS-2 ones
    assert count_segments(plain.replace("’", "'")) == Segments("GSM-7", 71, 1, ())
    assert count_segments(plain) == Segments("UCS-2", 71, 2, ("’",))


def test_one_emoji_makes_the_whole_message_ucs2() -> None:
    result = count_segments("Thanks! " + EMOJI)
    assert result == Segments("UCS-2", 10, 1, (EMOJI,))


def test_ucs2_extension_chars_are_one_unit() -> None:
    # In UCS-2 there is no escape: € is a single 16-bit unit.
    assert count_segments("€ж") == Segments("UCS-2", 2, 1, ("ж",))


@pytest.mark.parametrize(
    ("length", "segments"),
    [
        (1, 1),
        (70, 1),
        (71, 2),
        (133, 2),
        (134, 2),
        (135, 3),
        (201, 3),
        (202, 4),
    ],
)
def test_ucs2_lengths(length: int, segments: int) -> None:
    assert count_segments(CYRILLIC * length) == Segments("UCS-2", length, segments, (CYRILLIC,))


@pytest.mark.parametrize(
    ("count", "units", "segments"),
    [
        (1, 2, 1),
        (35, 70, 1),
        (36, 72, 2),
        (67, 134, 3),  # 33 + 33 + 1 emoji: 67 is odd, so every part wastes one unit
        (66, 132, 2),
    ],
)
def test_emoji_lengths(count: int, units: int, segments: int) -> None:
    assert count_segments(EMOJI * count) == Segments("UCS-2", units, segments, (EMOJI,))


def test_emoji_filling_a_single_message_exactly() -> None:
    assert count_segments(CYRILLIC * 68 + EMOJI).segments == 1
    assert count_segments(CYRILLIC * 69 + EMOJI) == Segments("UCS-2", 71, 2, (CYRILLIC, EMOJI))


def test_surrogate_pair_is_not_split_across_parts() -> None:
    # 66 units leave one in part 1; the emoji needs two, so it starts part 2.
    text = CYRILLIC * 66 + EMOJI + CYRILLIC * 66
    # 134 units would be 2 parts of 67 if the pair could be split; it can't.
    assert count_segments(text) == Segments("UCS-2", 134, 3, (CYRILLIC, EMOJI))


def test_surrogate_pair_fitting_exactly_at_the_end_of_a_part() -> None:
    text = CYRILLIC * 65 + EMOJI + CYRILLIC * 67
    assert count_segments(text) == Segments("UCS-2", 134, 2, (CYRILLIC, EMOJI))


def test_bmp_char_never_needs_pushing() -> None:
    # Only characters outside the BMP are two units; 'a' and 'ж' are one each.
    text = "a" * 66 + CYRILLIC + "a" * 67
    assert count_segments(text) == Segments("UCS-2", 134, 2, (CYRILLIC,))


def test_non_gsm_lists_distinct_chars_in_order_of_first_appearance() -> None:
    text = "“Hi” — we’re… on it ’ “ " + EMOJI + " ê é ç"
    result = count_segments(text)
    assert result.encoding == "UCS-2"
    assert result.non_gsm == ("“", "”", "—", "’", "…", EMOJI, "ê", "ç")


def test_gsm_text_has_no_non_gsm() -> None:
    assert count_segments("Hello, world!").non_gsm == ()


# --- empty text and the dataclass -----------------------------------------------------


def test_empty_text_is_one_segment() -> None:
    assert count_segments("") == Segments("GSM-7", 0, 1, ())


def test_segments_is_frozen() -> None:
    result = count_segments("hi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.segments = 5  # type: ignore[misc]


# --- describe -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", "1 segment, GSM-7, 0 septets"),
        ("a", "1 segment, GSM-7, 1 septet"),
        ("€", "1 segment, GSM-7, 2 septets"),
        ("a" * 210, "2 segments, GSM-7, 210 septets"),
        ("a" * 307, "3 segments, GSM-7, 307 septets"),
        (
            "We’re on it — " + "a" * 50,
            "1 segment, UCS-2 (because of ’ U+2019, — U+2014), 64 units",
        ),
        ("ж", "1 segment, UCS-2 (because of ж U+0436), 1 unit"),
        (EMOJI, "1 segment, UCS-2 (because of \U0001f600 U+1F600), 2 units"),
        ("a\tb", "1 segment, UCS-2 (because of U+0009), 3 units"),
        ("a\xa0b", "1 segment, UCS-2 (because of U+00A0), 3 units"),
        ("ж" * 71, "2 segments, UCS-2 (because of ж U+0436), 71 units"),
    ],
)
def test_describe(text: str, line: str) -> None:
    assert describe(count_segments(text)) == line


def test_describe_caps_the_list_of_chars() -> None:
    text = "αβγδεζηθ"
    line = describe(count_segments(text))
    assert line == (
        "1 segment, UCS-2 (because of α U+03B1, β U+03B2, γ U+03B3, δ U+03B4, ε U+03B5,"
        " and 3 more), 8 units"
    )


# --- Twilio's documented examples ------------------------------------------------------------
# Twilio, "What the heck is a segment?" and its Messaging Segment Calculator: GSM-7 holds 160
# characters in one segment and 153 per segment once split; UCS-2 holds 70 and 67; the GSM-7
# extension characters take two septets each.


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),  # 153 + 8
        ("a" * 306, "GSM-7", 2),  # 2 x 153
        ("a" * 307, "GSM-7", 3),
        ("a" * 459, "GSM-7", 3),  # 3 x 153
        ("ж" * 70, "UCS-2", 1),
        ("ж" * 71, "UCS-2", 2),  # 67 + 4
        ("ж" * 134, "UCS-2", 2),  # 2 x 67
        ("ж" * 135, "UCS-2", 3),
        ("[" * 80, "GSM-7", 1),  # 80 extension characters: 160 septets
        ("[" * 81, "GSM-7", 2),  # 162 septets
        ("a" * 159 + "^", "GSM-7", 2),  # 161 septets, though 160 characters
        ("a" * 159 + "\u00e1", "UCS-2", 3),  # one á: 160 UCS-2 units, 67 + 67 + 26
    ],
)
def test_twilio_documented_limits(text: str, encoding: str, segments: int) -> None:
    counted = count_segments(text)
    assert (counted.encoding, counted.segments) == (encoding, segments)


def test_twilio_extension_characters_count_double() -> None:
    for char in "^{}\\[~]|€":
        assert count_segments(char).units == 2, char
    assert count_segments("Price: 5€ [promo]").units == len("Price: 5€ [promo]") + 3


def test_twilio_spanish_accents_force_ucs2() -> None:
    # é and ñ are in the GSM-7 table, á í ó ú are not: one of them makes the whole text UCS-2.
    assert count_segments("Está arreglado, gracias por su paciencia.").encoding == "UCS-2"
    assert count_segments("Ya esta arreglado, señor; ¿qué tal?").encoding == "GSM-7"
