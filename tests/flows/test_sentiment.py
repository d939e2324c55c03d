"""Sentiment reads the start of a message: the longest message costs what a short one does, and
a message customers really write is scored whole, as before.

No test here times anything: cost is counted as the text handed to VADER, whose work grows with
that text alone (bench/sentiment.py measures the time)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from flows import sentiment as module
from flows.sentiment import scored_language, sentiment

REPLIES = Path(__file__).resolve().parents[1] / "data" / "replies.tsv"
PIECES = [
    "not",
    "good",
    "but",
    "never",
    "kind of",
    "furious",
    "BAD!!!",
    "thanks :)",
    "😠",
    "👨‍👩‍👧‍👦",  # a family: four emoji and three joiners, each read by VADER
    "x" * 40,
    " ",
    "  ",
    "\n",
    "\t",
    ".",
]


class Spy:
    """Stands in for VADER's analyser: records what it is asked to score, answers 0."""

    def __init__(self) -> None:
        self.real = SentimentIntensityAnalyzer()
        self.emojis = self.real.emojis
        self.scored: list[str] = []

    def polarity_scores(self, text: str) -> dict[str, float]:
        self.scored.append(text)
        return {"compound": 0.0}

    def words(self, text: str) -> int:
        """The words VADER reads in `text`: an emoji is the words of its name."""
        spelt = "".join(f" {self.emojis[c]} " if c in self.emojis else c for c in text)
        return len(spelt.split())


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    watcher = Spy()
    monkeypatch.setattr(module, "_analyser", lambda: watcher)
    yield watcher


def repeated(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


@settings(max_examples=60, deadline=None)
@given(
    unit=st.lists(
        st.sampled_from(PIECES) | st.text(min_size=1, max_size=12), min_size=1, max_size=8
    ).map(" ".join)
)
def test_two_hundred_thousand_characters_cost_what_two_thousand_do(unit: str) -> None:
    watcher = Spy()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "_analyser", lambda: watcher)
        short, long = repeated(unit, 2_000), repeated(unit, 200_000)
        sentiment(short)
        sentiment(long)
    assert len(watcher.scored) <= 2  # one VADER call each at most (none for blank text)
    if watcher.scored:
        [scored_short, scored_long] = watcher.scored
        assert scored_long == scored_short  # the very same text: the very same cost
        assert long.startswith(scored_long)
        assert len(scored_long) <= module.MAX_CHARS == 1_000
        assert watcher.words(scored_long) <= module.MAX_WORDS == 150


def test_the_worst_slack_message_is_scored_as_a_few_hundred_characters(spy: Spy) -> None:
    for text in ("not good " * 4445, "😠" * 40_000, "x" * 40_000):
        sentiment(text)
    assert [len(t) for t in spy.scored] == [675, 75, 1_000]  # 150 words, 150 words, 1,000 chars
    assert [spy.words(t) for t in spy.scored] == [150, 150, 1]


def test_a_word_is_never_cut_in_half(spy: Spy) -> None:
    sentiment("wordwordw " * 99 + "I am furious")  # "furious" crosses the 1,000th character
    sentiment("word " * 150 + "furious")  # the 151st word
    assert [t.split()[-1] for t in spy.scored] == ["am", "word"]
    assert not any("fur" in t for t in spy.scored)


def _replies() -> list[str]:
    lines = REPLIES.read_text(encoding="utf-8").splitlines()
    return [line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")]


def test_what_customers_write_is_scored_whole_as_before() -> None:
    vader = SentimentIntensityAnalyzer()
    texts = [*_replies(), "This is ridiculous, worst service ever, I am furious", "👍 thanks!"]
    english = [text for text in texts if scored_language(text) == "en"]
    assert len(english) > 200  # the Spanish replies are read in Spanish, every other as before
    for text in english:
        assert sentiment(text) == round(vader.polarity_scores(text)["compound"], 2), text
    for text in texts:
        assert sentiment(text, "en") == round(vader.polarity_scores(text)["compound"], 2), text


def test_a_long_complaint_still_reads_as_a_complaint() -> None:
    complaint = (
        "I have been waiting for three weeks now. The technician came twice and did not fix"
        " anything. My internet still drops every evening and I work from home. This is"
        " unacceptable and I want a refund. "
    )
    assert sentiment(complaint * 200) <= -0.6  # alerts, as the first lines alone would
    assert sentiment("Thank you, it all works now and the engineer was great. " * 500) >= 0.9


def test_blank_text_is_neutral(spy: Spy) -> None:
    assert sentiment("") == sentiment(" \n\t" * 1_000) == 0.0
    assert spy.scored == []
