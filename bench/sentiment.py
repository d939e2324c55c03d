"""Sentiment benchmark: the worst 40,000-character message (Slack's longest) against a typical
160-character one, scored by `flows.sentiment.sentiment` in the same run.

What is compared, and why ------------------------- VADER's cost grows with the square of the
words it reads, and an emoji reads as the words of its name, so the worst inputs are many short
sentiment-laden words or many emoji. `sentiment` scores only the start of a message (at most
`MAX_CHARS` characters and `MAX_WORDS` words, `flows/sentiment.py`), so its worst case should be
a small constant times a typical message's cost. Each hostile input below (40,000 characters)
and the typical message are scored R times, alternating; the median of each is reported, and
the ratio worst / typical. The 200,000-character copy of the worst shows the cost no longer
grows with the length. The Spanish, French and Portuguese inputs are scored by those
languages' analysers (`flows/sentiment_rules.py`, VADER's rules over their own lexicons), and
each is checked to be read in its language. Without --quick, `"not good " * 4445` (40,000
characters) is also scored once by VADER uncapped, the way every message was scored before the
cap (5.6-10.7 s on this project's 2-core machine; 40,000 emoji would take minutes).

Run from the repository root: `python -m bench.sentiment [--quick] [--repeats R]` (--quick: a
second or two). Exits non-zero when a check fails: each hostile input is scored from at most
MAX_CHARS characters and MAX_WORDS words, and a message under the cap is scored whole (the same
score as VADER's own, rounded; a Spanish one, as the Spanish analyser's own).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from bench.checks import Checks
from flows import sentiment as module
from flows.sentiment import MAX_CHARS, MAX_WORDS, scored_language, scored_part, sentiment
from flows.sentiment_languages import analyser_for

LENGTH = 40_000  # Slack's longest message
TYPICAL = (
    "Still not working. The router keeps blinking red and the internet drops every few"
    " minutes, I restarted it twice today. Please send someone out, I work from home!"
)
HOSTILE = {
    "'not good ' repeated": "not good ",
    "'😠' repeated": "😠",
    "an angry sentence repeated": "This is ridiculous, worst service ever, I am furious. ",
    "'never so very bad ' repeated": "never so very bad ",
    "one 40,000-letter word": "x",
    # Read by the Spanish, French and Portuguese analysers (flows/sentiment_rules.py), which
    # split elisions ("n'est" is two words): their cost must be capped too.
    "'no es bueno ' repeated (es)": "no es bueno ",
    "'ce n'est pas bon ' repeated (fr)": "ce n'est pas bon ",
    "'não é nada bom ' repeated (pt)": "não é nada bom ",
}
# The language each hostile input is scored in, when it is not English.
HOSTILE_LANGUAGE = {name: name[-3:-1] for name in HOSTILE if name.endswith(")")}
TYPICAL_ES = (
    "Sigue sin funcionar, llevo tres semanas sin internet y es una vergüenza. Por favor manden"
    " a alguien, trabajo desde casa!"
)
# Scored uncapped once, as before the cap; 40,000 emoji read as 80,000 words would take minutes.
UNCAPPED = "'not good ' repeated"
RATIO_FINDING = 200  # uncapped, the worst costs thousands of times a typical message


def repeated(unit: str, length: int = LENGTH) -> str:
    return (unit * (length // len(unit) + 1))[:length]


def median_seconds(scorers: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Each scorer timed `repeats` times, taking turns, so a busy moment slows them all alike."""
    times: dict[str, list[float]] = {name: [] for name in scorers}
    for _ in range(repeats):
        for name, score in scorers.items():
            began = time.perf_counter()
            score()
            times[name].append(time.perf_counter() - began)
    return {name: statistics.median(taken) for name, taken in times.items()}


def words_read(text: str) -> int:
    emojis = module._analyser().emojis
    return len("".join(f" {emojis[c]} " if c in emojis else c for c in text).split())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sentiment",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no uncapped run")
    parser.add_argument("--repeats", type=int, help="scores of each input (default 200, quick 20)")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 20 if args.quick else 200
    if args.repeats < 1:
        parser.error("--repeats >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    checks = Checks()
    module._analyser()  # load the lexicons before timing anything
    for code in set(HOSTILE_LANGUAGE.values()):
        analyser_for(code)
    print(f"sentiment: cap {MAX_CHARS:,} characters, {MAX_WORDS} words; {args.repeats} repeats")
    print(f"\n  typical message ({len(TYPICAL)} characters): {TYPICAL!r}")
    texts = {name: repeated(unit) for name, unit in HOSTILE.items()}
    scorers: dict[str, Callable[[], object]] = {"typical": functools.partial(sentiment, TYPICAL)}
    scorers |= {name: functools.partial(sentiment, text) for name, text in texts.items()}
    first = median_seconds(scorers, args.repeats)
    worst_name = max(texts, key=first.__getitem__)  # this first run is also the warm-up
    longer = repeated(HOSTILE[worst_name], 5 * LENGTH)
    longer_name = f"{worst_name}, 200,000 ch"
    scorers[longer_name] = functools.partial(sentiment, longer)
    results = median_seconds(scorers, args.repeats)  # again, with the longer one beside them
    typical = results.pop("typical")
    print(f"  typical: {typical * 1e3:.3f} ms (median)")
    print(f"\n  {'hostile input, 40,000 characters':34} {'scored':>17} {'median':>10} {'ratio':>7}")
    for name, seconds in results.items():
        part = scored_part(texts.get(name, longer))
        scored = f"{len(part):,} ch, {words_read(part)} w"
        print(f"  {name:34} {scored:>17} {seconds * 1e3:8.3f} ms {seconds / typical:6.1f}x")
        if len(part) > MAX_CHARS or words_read(part) > MAX_WORDS:
            checks.fail(f"{name}: {len(part)} characters, {words_read(part)} words scored")
    worst = max(results[name] for name in texts)
    worst_name = max(texts, key=results.__getitem__)
    ratio = worst / typical
    print(
        f"\nRatio worst 40,000 characters ({worst_name}) / typical 160: **{ratio:.1f}x**"
        f" ({worst * 1e3:.2f} ms vs {typical * 1e3:.3f} ms)"
    )
    if not args.quick:
        analyser = module._analyser()
        began = time.perf_counter()
        analyser.polarity_scores(texts[UNCAPPED])
        uncapped = time.perf_counter() - began
        print(f"  uncapped VADER on {UNCAPPED}, 40,000 characters: {uncapped:.2f} s (once)")

    print("\nchecks")
    expected = round(float(module._analyser().polarity_scores(TYPICAL)["compound"]), 2)
    checks.expect("a message under the cap is scored whole", sentiment(TYPICAL), expected)
    checks.expect("hostile inputs within the cap", not checks.problems, True)
    for name, code in HOSTILE_LANGUAGE.items():
        checks.expect(f"{name} is read in its language", scored_language(texts[name]), code)
    expected_es = round(float(analyser_for("es").polarity_scores(TYPICAL_ES)["compound"]), 2)
    checks.expect(
        "a Spanish message under the cap is scored whole", sentiment(TYPICAL_ES), expected_es
    )
    if ratio > RATIO_FINDING:
        checks.finding(f"the worst input costs {ratio:.0f}x a typical message")
    return 1 if checks.problems else 0


if __name__ == "__main__":
    sys.exit(main())
