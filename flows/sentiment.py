"""How a customer's message feels, from VADER's lexicon (a well-kept, rule-based analyser that
needs no model download and scores a message in tens of microseconds).

The score is VADER's compound value, -1 (most negative) to +1. It is stored on each inbound
message; one at or below `sentiment.alert_below` in config alerts a supervisor, because a
customer that angry needs a person whatever their words ask for.
"""

from __future__ import annotations

import functools

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@functools.cache
def _analyser() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()  # loads its lexicon once per process


def sentiment(text: str) -> float:
    """VADER's compound score for `text`, rounded to what a person would read: -0.82."""
    if not text.strip():
        return 0.0
    return round(float(_analyser().polarity_scores(text)["compound"]), 2)
