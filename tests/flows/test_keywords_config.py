"""`keywords:` in config.yaml: the flat lists as before, and lists per language."""

from __future__ import annotations

import pytest

from bot.config import parse_config
from bot.errors import ConfigError
from flows.intents import DEFAULT_KEYWORDS, Intent, read_reply


def test_no_keywords_section_is_the_built_in_words() -> None:
    assert parse_config({}).keyword_set == DEFAULT_KEYWORDS
    assert parse_config({"keywords": {}}).keyword_set == DEFAULT_KEYWORDS


def test_flat_list_replaces_that_list_in_every_language() -> None:
    keywords = parse_config({"keywords": {"confirm": ["OK", "CONFIRM"]}}).keyword_set
    assert keywords.confirm == ("OK", "CONFIRM")
    for word in ("yes", "si", "oui", "sim"):
        assert read_reply(word, keywords).intent is Intent.UNCLEAR
    assert read_reply("ok", keywords).intent is Intent.CONFIRM
    assert read_reply("ok", keywords).language is None  # ops' own word: no language
    assert read_reply("não", keywords).intent is Intent.REOPEN  # other lists keep every language


def test_language_list_replaces_that_language_only() -> None:
    config = {"keywords": {"es": {"confirm": ["vale", "listo"]}, "fr": {"opt_out": ["arret"]}}}
    keywords = parse_config(config).keyword_set
    assert read_reply("vale", keywords).intent is Intent.CONFIRM
    assert read_reply("vale", keywords).language == "es"
    assert read_reply("si", keywords).intent is Intent.UNCLEAR
    assert read_reply("yes", keywords).intent is Intent.CONFIRM
    assert read_reply("oui", keywords).intent is Intent.CONFIRM
    assert read_reply("ARRÊT", keywords).intent is Intent.OPT_OUT
    assert read_reply("désabonner", keywords).intent is not Intent.OPT_OUT
    assert read_reply("STOP", keywords).intent is Intent.OPT_OUT  # still English's


def test_a_word_left_in_another_language_still_reads() -> None:
    # "no" is English and Spanish: taking it out of Spanish leaves the English one.
    keywords = parse_config({"keywords": {"es": {"reopen": ["reabrir"]}}}).keyword_set
    assert read_reply("no", keywords).intent is Intent.REOPEN
    assert read_reply("no", keywords).language == "en"
    assert read_reply("no funciona", keywords).intent is Intent.REOPEN


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"keywords": {"confirm": ["ok"], "es": {"confirm": ["vale"]}}},
            "confirm is given as a flat list and under es",
        ),
        ({"keywords": {"de": {"confirm": ["ja"]}}}, "keywords.de"),
        ({"keywords": {"es": {"confirmar": ["vale"]}}}, "keywords.es.confirmar"),
        ({"keywords": {"es": {"confirm": "vale"}}}, "keywords.es.confirm"),
    ],
)
def test_bad_keywords_are_refused(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(config)
