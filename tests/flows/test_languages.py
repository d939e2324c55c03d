"""flows.intents: which language a reading is in (Reading.language), for the contact's locale."""

from __future__ import annotations

import pytest

from flows.intents import DEFAULT_KEYWORDS, Intent, Keywords, keywords_by_language, read_reply


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("YES", "en"),
        ("yes 1042", "en"),
        ("y", "en"),
        ("yse", "en"),  # a typo of an English word
        ("it doesn't seem to work", "en"),
        ("still broken", "en"),
        ("no internet", "en"),
        ("HELP", "en"),
        ("5 stars", "en"),
        ("unsubscibe", "en"),  # a typo of an English opt-out word
        ("STOP SENDING ME MESSAGES", "en"),
        ("dejen de enviarme mensajes", "es"),
        ("SI", "es"),
        ("sí, gracias", "es"),
        ("si ya funciona", "es"),
        ("no funciona", "es"),
        ("no, todavía no funciona", "es"),
        ("ESTADO", "es"),
        ("AYUDA", "es"),
        ("BAJA", "es"),
        ("5 estrellas", "es"),
    ],
)
def test_language_of_the_words_that_matched(text: str, language: str) -> None:
    assert read_reply(text).language == language


@pytest.mark.parametrize(
    "text",
    [
        "no",  # English and Spanish
        "NO 1042",
        "STOP",  # every carrier's word
        "info",
        "yes gracias",  # one word each: a person may set the locale
        "5",
        "👍",
        "❌",
        "ok",  # unclear
        "lo reviso y les aviso",  # unclear, though Spanish
        "",
    ],
)
def test_no_language_when_the_reply_does_not_say(text: str) -> None:
    assert read_reply(text).language is None


def test_language_does_not_change_equality() -> None:
    # Readings compare by what they ask for; code that compares them stays as it was.
    assert read_reply("yes") == read_reply("si")


def test_ops_own_words_are_no_language() -> None:
    fields = {name: getattr(DEFAULT_KEYWORDS, name) for name in Keywords.__dataclass_fields__}
    keywords = Keywords(**{**fields, "confirm": ("dale", "yes")})
    assert read_reply("dale", keywords).intent is Intent.CONFIRM
    assert read_reply("dale", keywords).language is None
    assert read_reply("yes", keywords).language == "en"
    assert read_reply("si", keywords).intent is Intent.UNCLEAR  # taken out of the list


def test_keywords_by_language_labels_each_entry() -> None:
    keywords = keywords_by_language(
        {"en": {"confirm": ["yes"], "reopen": ["no"]}, "es": {"confirm": ["si"], "reopen": ["no"]}}
    )
    assert keywords.confirm == ("👍", "✅", "✔", "☑", "✓", "👌", "yes", "si")
    assert keywords.reopen[-1] == "no"
    assert read_reply("si", keywords).language == "es"
    assert read_reply("no", keywords).language is None
