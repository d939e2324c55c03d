"""Every customer template has a Spanish, French and Portuguese translation beside it.

A translation sits beside its English file as `<name>.<locale>.txt.j2` (Block Kit:
`<name>.<locale>.json.j2`); the English file has no locale in its name. Each translation must
parse, use exactly the English template's variables (a translation that drops `case.eta` hides
a promise; one that adds a variable breaks on render), include the same locale's partials, and,
for Slack's Block Kit, render the sample data of `keepposted config check` into JSON with the
English template's buttons (`action_id`), which the flows read whatever the language.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined, meta

from bot.config import Config
from bot.ops.config_check import sample_context
from bot.render import format_when, mention, mrkdwn
from bot.resources import templates_root

LOCALES = ("es", "fr", "pt")
# Every text a customer reads on these channels (the web chat's HTML page is not a text).
TEXT_FOLDERS = ("sms", "webchat")
# The Slack templates a customer receives in a DM (the rest of slack/ is for agents).
SLACK_CUSTOMER = (
    "slack/confirm_request.json.j2",
    "slack/confirm_reminder.json.j2",
    "slack/csat_ask.json.j2",
    "slack/_answer_buttons.json.j2",
    "slack/answer.txt.j2",
    "slack/answered.txt.j2",
)
ROOT = templates_root()


def english_templates(root: Path = ROOT) -> list[str]:
    """Each English customer template, as `<folder>/<name>.<kind>.j2` under `root`."""
    found = [
        f"{folder}/{path.name}"
        for folder in TEXT_FOLDERS
        for path in sorted((root / folder).glob("*.txt.j2"))
        if path.name.count(".") == 2  # `name.txt.j2`; `name.es.txt.j2` is a translation
    ]
    return found + list(SLACK_CUSTOMER)


def translation(english: str, locale: str) -> str:
    """`sms/interim.txt.j2` -> `sms/interim.es.txt.j2`."""
    folder, _, file = english.partition("/")
    name, _, kind = file.partition(".")
    return f"{folder}/{name}.{locale}.{kind}"


def missing_translations(root: Path = ROOT) -> list[str]:
    return [
        translation(english, locale)
        for english in english_templates(root)
        for locale in LOCALES
        if not (root / translation(english, locale)).is_file()
    ]


ENV = Environment(
    loader=FileSystemLoader(str(ROOT)),
    undefined=StrictUndefined,
    autoescape=False,  # plain text and Block Kit JSON, as bot/render.py renders them
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(when=format_when, mrkdwn=mrkdwn, mention=mention)


def source(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def variables(path: str) -> set[str]:
    return meta.find_undeclared_variables(ENV.parse(source(path)))


def includes(path: str) -> set[str | None]:
    return set(meta.find_referenced_templates(ENV.parse(source(path))))


def action_ids(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["action_id"]] if "action_id" in node else []
        return own + [found for value in node.values() for found in action_ids(value)]
    if isinstance(node, list):
        return [found for item in node for found in action_ids(item)]
    return []


PAIRS = [(english, locale) for english in english_templates() for locale in LOCALES]
IDS = [translation(english, locale) for english, locale in PAIRS]


def present(translated: str) -> str:
    """The translation's name; a missing file fails the test that needs it, never skips it."""
    assert (ROOT / translated).is_file(), f"{translated} is missing"
    return translated


def test_every_customer_template_has_each_translation() -> None:
    assert missing_translations() == []


def test_a_missing_translation_is_reported(tmp_path: Path) -> None:
    for english in english_templates():
        for name in [english] + [translation(english, locale) for locale in LOCALES]:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text("")
    (tmp_path / "sms/interim.fr.txt.j2").unlink()
    (tmp_path / "sms/brand_new.txt.j2").write_text("A new English text.")
    assert missing_translations(tmp_path) == [
        "sms/brand_new.es.txt.j2",
        "sms/brand_new.fr.txt.j2",
        "sms/brand_new.pt.txt.j2",
        "sms/interim.fr.txt.j2",
    ]


@pytest.mark.parametrize(("english", "locale"), PAIRS, ids=IDS)
def test_a_translation_uses_the_english_variables(english: str, locale: str) -> None:
    translated = present(translation(english, locale))
    assert variables(translated) == variables(english)


@pytest.mark.parametrize(("english", "locale"), PAIRS, ids=IDS)
def test_a_translation_includes_its_own_locale_partials(english: str, locale: str) -> None:
    translated = present(translation(english, locale))
    expected = {translation(str(name), locale) for name in includes(english)}
    assert includes(translated) == expected


SLACK_LAYOUTS = [
    (english, locale)
    for english in SLACK_CUSTOMER
    if english.endswith(".json.j2") and not english.startswith("slack/_")
    for locale in LOCALES
]


@pytest.mark.parametrize(
    ("english", "locale"), SLACK_LAYOUTS, ids=[translation(e, loc) for e, loc in SLACK_LAYOUTS]
)
def test_a_slack_translation_renders_json_with_the_english_buttons(
    english: str, locale: str
) -> None:
    context = sample_context(Config()) | {"text": "Sample."}
    translated = present(translation(english, locale))
    blocks = json.loads(ENV.get_template(translated).render(context))
    assert isinstance(blocks, list)
    assert action_ids(blocks) == action_ids(json.loads(ENV.get_template(english).render(context)))


# The chat page's fixed words: one JSON object per language (templates/webchat/page_words*).
PAGE_WORDS = "webchat/page_words.json.j2"
PLACEHOLDER = re.compile(r"\{\w+\}")


def page_words_of(path: str) -> dict[str, str]:
    words = json.loads(ENV.get_template(path).render(sample_context(Config())))
    assert isinstance(words, dict) and all(isinstance(v, str) for v in words.values()), path
    return words


@pytest.mark.parametrize("locale", LOCALES)
def test_the_chat_pages_words_are_all_translated(locale: str) -> None:
    """Every word of the English page in each language, with the same {placeholders} (the
    page fills {n} and {max_chars} in) and nothing the page would never show."""
    english = page_words_of(PAGE_WORDS)
    translated = page_words_of(present(translation(PAGE_WORDS, locale)))
    assert sorted(translated) == sorted(english)
    for key, text in english.items():
        assert PLACEHOLDER.findall(translated[key]) == PLACEHOLDER.findall(text), key
    assert variables(translation(PAGE_WORDS, locale)) == variables(PAGE_WORDS)
