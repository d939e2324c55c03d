"""How a customer's message feels, from VADER's lexicon (a well-kept, rule-based analyser that
needs no model download).

The score is VADER's compound value, -1 (most negative) to +1. It is stored on each inbound
message; one at or below `sentiment.alert_below` in config alerts a supervisor, because a
customer that angry needs a person whatever their words ask for.

Only the start of a message is scored: at most `MAX_CHARS` characters and `MAX_WORDS` words.
VADER's cost grows with the square of the words it reads (each word's checks re-read the whole
message), and an emoji counts as the words of its name ("angry face"), so 40,000 characters, a
Slack message at its longest, took 5 to 9 seconds; capped, the longest message costs what 150
words do, a few milliseconds (bench/sentiment.py). The cap keeps the meaning of what customers
write: an answer to "is it fixed?" is a sentence or two (the longest in tests/data/replies.tsv is
110 characters), 150 words is five SMS segments of prose, and by then a long message's compound
is near -1 or +1 already (a 1,200-character complaint or thank-you scored whole moves by a few
hundredths), so reading further would not change whether it alerts. The character cap bounds
what has few words: one very long word, or a string of letters with no spaces.

Spanish, French and Portuguese are scored by VADER's same rules over lexicons of their own
(flows/sentiment_languages.py, flows/lexicons/); English is scored by vaderSentiment itself, as
before. The caller says which language a message is in when it knows; otherwise the language
whose words the message's scored part uses most is taken, English when none leads.
"""

from __future__ import annotations

import functools

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from flows.sentiment_languages import ENGLISH, analyser_for, detect_language, language_code

MAX_CHARS = 1_000
MAX_WORDS = 150  # about 800 characters of prose: the two caps agree on plain words


@functools.cache
def _analyser() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()  # loads its lexicon once per process


def scored_part(text: str) -> str:
    """The start of `text` that `sentiment` reads: at most MAX_CHARS characters and MAX_WORDS
    words (an emoji counting as the words VADER reads for it), never ending inside a word."""
    emojis: dict[str, str] = _analyser().emojis
    words, in_word = 0, False
    for at, char in enumerate(text[: MAX_CHARS + 1]):
        if at == MAX_CHARS:
            if in_word and not char.isspace():  # a word cut short would read as another word
                return _before_last_word(text[:at])
            return text[:at]
        if char in emojis:
            words, in_word = words + len(emojis[char].split()), False
        elif char.isspace():
            in_word = False
            continue
        elif not in_word:
            words, in_word = words + 1, True
        else:
            continue
        if words > MAX_WORDS:
            return text[:at]  # `at` starts the word (or emoji) that would be one too many
    return text


def _before_last_word(text: str) -> str:
    for at in range(len(text) - 1, -1, -1):
        if text[at].isspace():
            return text[:at]
    return text  # one word as long as the cap: score its start


def sentiment(text: str, language: str | None = None) -> float:
    """VADER's compound score for the start of `text` (see `scored_part`), rounded to what a
    person would read: -0.82. `language` ("es", "pt-BR") is the customer's language when the
    caller knows it; None, or a language without a lexicon here, reads the words to choose."""
    part = scored_part(text)
    if not part.strip():
        return 0.0
    code = language_code(language) or detect_language(part)  # `part` is already cut
    analyser = _analyser() if code == ENGLISH else analyser_for(code)
    return round(float(analyser.polarity_scores(part)["compound"]), 2)


def scored_language(text: str) -> str:
    """The language `sentiment` reads `text` in when the caller does not say: the one whose
    words the start of `text` (`scored_part`) uses most, English when none leads."""
    return detect_language(scored_part(text))
