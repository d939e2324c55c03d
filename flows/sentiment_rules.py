"""VADER's algorithm over any language's words: its lexicon lookup, boosters, negation, "but",
caps and punctuation, each reading its words from a `LanguageRules` instead of the English
lists vaderSentiment keeps at module level (NEGATE, BOOSTER_DICT, "but", "never so", ...).
Those lists are never changed, so English scored by vaderSentiment itself stays as it was.

The steps are vaderSentiment 3.3.2's (MIT), in its order and with its constants, so with
`ENGLISH_RULES` this analyser gives VADER's English scores exactly (tests check that): what
differs between languages is data. Spanish, French and Portuguese are read with a few
differences VADER's English reading has no need for (`LanguageRules.romance`): accents are
optional ("verguenza" is "vergüenza"), "¿" and "¡" are punctuation, French elisions are words
("n'est" is "n'" "est"), a negation does not reach past a comma or a full stop, and several
negators together are one negation ("no funciona nunca", "ne ... pas": negative concord, where
English would flip the meaning back at each one).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vaderSentiment import vaderSentiment as vader

# Prefixed to each word an emoji is spelt as ("angry face"), so that in another language the
# emoji's English name is read with VADER's English valences, never as a word of that language.
EMOJI_WORD = "\u2060"  # WORD JOINER: invisible, no letter, not punctuation
_EDGE_PUNCTUATION = string.punctuation + "¡¿«»“”‘’…–—"  # the marks customers type
_CLAUSE_ENDS = (",", ".", ";", ":", "!", "?", "…")
_ELISION = re.compile(r"^(qu|[cdjlmnst])'(.+)$")


def fold(word: str) -> str:
    """Lower case without accents, typographic apostrophe as plain: "Vergüenza" -> "verguenza"."""
    decomposed = unicodedata.normalize("NFD", word.lower().replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class LanguageRules:
    """The words VADER's rules look for, in one language. Words are as `fold` gives them
    (English: lower case), except `lexicon` keys in English, which VADER keeps as written."""

    code: str
    lexicon: Mapping[str, float]
    negations: frozenset[str]  # "not": flips the valence of a lexicon word up to 3 words on
    boosters: Mapping[str, float]  # "very", "kind of": VADER's B_INCR or B_DECR
    contrast: frozenset[str]  # "but": halves what comes before the first, 1.5x what follows
    special_cases: Mapping[str, float] = field(default_factory=dict)  # "the bomb": 3
    never: frozenset[str] = frozenset()  # "never so good" intensifies instead of negating
    so_this: frozenset[str] = frozenset()
    without: frozenset[str] = frozenset()  # "without doubt, good" is not a negation
    doubt: frozenset[str] = frozenset()
    least: frozenset[str] = frozenset()  # "least good" negates, "at least good" does not
    not_before_least: frozenset[str] = frozenset()
    # VADER's "no": a lexicon word of its own ("No.") that negates what it stands before.
    no_word: str | None = None
    no_or: frozenset[str] = frozenset()  # "no good or bad": "no" reaches 3 words past "or"
    skip_pairs: frozenset[tuple[str, str]] = frozenset()  # "kind of": "kind" is no lexicon word
    romance: bool = False  # the reading described in the module docstring; False is VADER's


@dataclass(frozen=True)
class _Token:
    shown: str  # as written, for VADER's caps rule
    word: str  # what the rules compare
    ends_clause: bool  # written with a comma, full stop ... after it (romance reading only)


class RuleAnalyser(vader.SentimentIntensityAnalyzer):  # type: ignore[misc]
    """VADER's `polarity_scores` with the words of `rules`; its scoring of the sum
    (`score_valence`, punctuation emphasis, normalisation) is inherited unchanged."""

    def __init__(self, rules: LanguageRules, emojis: Mapping[str, str]) -> None:
        # VADER's own __init__ would read its English files; the lexicon comes from `rules`.
        self.rules = rules
        self.lexicon = rules.lexicon
        self.emojis = emojis

    def polarity_scores(self, text: str) -> dict[str, float]:
        spelt = self._spell_emojis(text)
        tokens = self._tokens(spelt)
        words = [token.word for token in tokens]
        is_cap_diff = vader.allcap_differential([token.shown for token in tokens])
        sentiments: list[float] = []
        for i, word in enumerate(words):
            if word in self.rules.boosters or (
                i < len(words) - 1 and (word, words[i + 1]) in self.rules.skip_pairs
            ):
                sentiments.append(0)  # a modifier, not a sentiment of its own
                continue
            sentiments.append(self._valence(tokens, words, i, is_cap_diff))
        sentiments = self._contrast(words, sentiments)
        scores: dict[str, float] = self.score_valence(sentiments, spelt)
        return scores

    def _spell_emojis(self, text: str) -> str:
        """VADER's emoji step: each emoji becomes the words of its name."""
        mark = EMOJI_WORD if self.rules.romance else ""
        spelt, prev_space = "", True
        for char in text:
            if char in self.emojis:
                name = " ".join(mark + part for part in self.emojis[char].split(" "))
                spelt += ("" if prev_space else " ") + name
                prev_space = False
            else:
                spelt += char
                prev_space = char == " "
        return spelt.strip()

    def _tokens(self, text: str) -> list[_Token]:
        if not self.rules.romance:  # VADER's SentiText, exactly
            kept = [vader.SentiText._strip_punc_if_word(raw) for raw in text.split()]
            return [_Token(word, word.lower(), ends_clause=False) for word in kept]
        tokens: list[_Token] = []
        for raw in text.split():
            if fold(raw) in self.lexicon:  # an emoticon such as ":D" keeps its marks
                tokens.append(_Token(raw, fold(raw), ends_clause=False))
                continue
            shown = raw.strip(_EDGE_PUNCTUATION) or raw
            ends = raw.rstrip("\"')»”").endswith(_CLAUSE_ENDS)
            elided = _ELISION.match(fold(shown))
            if elided:  # "n'est" -> "n'" "est"; "l'attente" -> "l'" "attente"
                cut = len(elided.group(1)) + 1
                tokens.append(_Token(shown[:cut], elided.group(1) + "'", ends_clause=False))
                shown = shown[cut:]
            tokens.append(_Token(shown, fold(shown), ends_clause=ends))
        return tokens

    def _valence(self, tokens: list[_Token], words: list[str], i: int, is_cap_diff: bool) -> float:
        """VADER's `sentiment_valence` for the word at `i`."""
        rules, word = self.rules, words[i]
        if word not in self.lexicon:
            return 0.0
        valence = self.lexicon[word]
        if word == rules.no_word and self._no_negates_next(tokens, words, i):
            valence = 0.0  # "no" negates the next word and has no valence of its own
        if word == rules.no_word and rules.romance and not _answers(tokens, i):
            valence = 0.0  # "no funciona": a negator, where English would write "not"
        if not rules.romance and self._after_no(words, i):
            valence = self.lexicon[word] * vader.N_SCALAR
        if tokens[i].shown.isupper() and is_cap_diff:
            valence += vader.C_INCR if valence > 0 else -vader.C_INCR
        negated = False
        for start_i in range(3):
            at = i - (start_i + 1)
            if at < 0 or (rules.romance and _cut(tokens, at, i)):
                break
            if words[at] not in self.lexicon:
                scalar = self._scalar(tokens[at], valence, is_cap_diff)
                if scalar != 0 and start_i > 0:
                    scalar *= 0.95 if start_i == 1 else 0.9
                valence += scalar
                if not rules.romance:
                    valence = self._negation_check(valence, words, start_i, i)
                if start_i == 2:
                    valence = self._special_idioms_check(valence, words, i)
            if rules.romance and not negated:
                valence, negated = self._romance_negation(valence, words, at, i)
        return self._least_check(valence, words, i)

    def _no_negates_next(self, tokens: list[_Token], words: list[str], i: int) -> bool:
        if not self.rules.romance:
            return i != len(words) - 1 and words[i + 1] in self.lexicon
        # A "no" with a lexicon word in the next three, in its clause, is that word's negation.
        for at in range(i + 1, min(i + 4, len(words))):
            if _cut(tokens, i, at):
                return False
            if words[at] in self.lexicon:
                return True
        return False

    def _after_no(self, words: list[str], i: int) -> bool:
        no = self.rules.no_word
        return no is not None and (
            (i > 0 and words[i - 1] == no)
            or (i > 1 and words[i - 2] == no)
            or (i > 2 and words[i - 3] == no and words[i - 1] in self.rules.no_or)
        )

    def _scalar(self, token: _Token, valence: float, is_cap_diff: bool) -> float:
        """VADER's `scalar_inc_dec`: what a booster before a lexicon word adds."""
        scalar = self.rules.boosters.get(token.word, 0.0)
        if scalar == 0.0:
            return 0.0
        if valence < 0:
            scalar *= -1
        if token.shown.isupper() and is_cap_diff:
            scalar += vader.C_INCR if valence > 0 else -vader.C_INCR
        return scalar

    def _romance_negation(
        self, valence: float, words: list[str], at: int, i: int
    ) -> tuple[float, bool]:
        """A negator `at` before the word at `i` negates it once, whatever other negators the
        clause holds; "sin duda" (without doubt) is no negation, "nunca tan" intensifies."""
        rules, word = self.rules, words[at]
        if word not in rules.negations and word != rules.no_word:
            return valence, False
        follows = words[at + 1] if at + 1 < i else ""
        if word in rules.without and follows in rules.doubt:
            return valence, False
        if word in rules.never and follows in rules.so_this:
            return valence * 1.25, True
        return valence * vader.N_SCALAR, True

    def _negated(self, word: str) -> bool:
        """VADER's `negated` for one word."""
        return word in self.rules.negations or "n't" in word

    def _negation_check(self, valence: float, words: list[str], start_i: int, i: int) -> float:
        """VADER's `_negation_check`, with this language's "never", "so", "without" ..."""
        rules, before = self.rules, words[i - (start_i + 1)]
        if start_i == 0:
            return valence * vader.N_SCALAR if self._negated(before) else valence
        if start_i == 1:
            if words[i - 2] in rules.never and words[i - 1] in rules.so_this:
                return valence * 1.25
            if words[i - 2] in rules.without and words[i - 1] in rules.doubt:
                return valence
            return valence * vader.N_SCALAR if self._negated(before) else valence
        # As in VADER, "so" or "this" just before intensifies with or without "never".
        if (words[i - 3] in rules.never and words[i - 2] in rules.so_this) or words[
            i - 1
        ] in rules.so_this:
            return valence * 1.25
        if words[i - 3] in rules.without and (
            words[i - 2] in rules.doubt or words[i - 1] in rules.doubt
        ):
            return valence
        return valence * vader.N_SCALAR if self._negated(before) else valence

    def _special_idioms_check(self, valence: float, words: list[str], i: int) -> float:
        """VADER's `_special_idioms_check`: phrases of this language, then two- and three-word
        boosters ("kind of")."""
        special, boosters = self.rules.special_cases, self.rules.boosters
        before = [
            f"{words[i - 1]} {words[i]}",
            f"{words[i - 2]} {words[i - 1]} {words[i]}",
            f"{words[i - 2]} {words[i - 1]}",
            f"{words[i - 3]} {words[i - 2]} {words[i - 1]}",
            f"{words[i - 3]} {words[i - 2]}",
        ]
        for phrase in before:
            if phrase in special:
                valence = special[phrase]
                break
        if len(words) - 1 > i and f"{words[i]} {words[i + 1]}" in special:
            valence = special[f"{words[i]} {words[i + 1]}"]
        if len(words) - 1 > i + 1 and f"{words[i]} {words[i + 1]} {words[i + 2]}" in special:
            valence = special[f"{words[i]} {words[i + 1]} {words[i + 2]}"]
        for n_gram in (before[3], before[4], before[2]):
            if n_gram in boosters:
                valence += boosters[n_gram]
        return valence

    def _least_check(self, valence: float, words: list[str], i: int) -> float:
        """VADER's `_least_check`."""
        least = self.rules.least
        if i > 1 and words[i - 1] not in self.lexicon and words[i - 1] in least:
            if words[i - 2] not in self.rules.not_before_least:
                valence *= vader.N_SCALAR
        elif i > 0 and words[i - 1] not in self.lexicon and words[i - 1] in least:
            valence *= vader.N_SCALAR
        return valence

    def _contrast(self, words: list[str], sentiments: list[float]) -> list[float]:
        """VADER's `_but_check`, with its way of finding each sentiment's place kept (the first
        equal value's), so English scores stay VADER's own."""
        found = [at for at, word in enumerate(words) if word in self.rules.contrast]
        if not found:
            return sentiments
        but = found[0]
        for sentiment in list(sentiments):
            at = sentiments.index(sentiment)
            if at < but:
                sentiments[at] = sentiment * 0.5
            elif at > but:
                sentiments[at] = sentiment * 1.5
        return sentiments


def _answers(tokens: list[_Token], i: int) -> bool:
    """Whether the word at `i` stands alone in its clause ("No." "No, todavía no")."""
    return tokens[i].ends_clause or i == len(tokens) - 1


def _cut(tokens: list[_Token], first: int, last: int) -> bool:
    """Whether a clause ends between the words at `first` and `last` (a comma, a full stop)."""
    return any(token.ends_clause for token in tokens[first:last])


def english_rules() -> LanguageRules:
    """VADER's own English lists, read from vaderSentiment (never copied, never changed)."""
    analyser: Any = vader.SentimentIntensityAnalyzer()
    return LanguageRules(
        code="en",
        lexicon=analyser.lexicon,
        negations=frozenset(vader.NEGATE),
        boosters=vader.BOOSTER_DICT,
        contrast=frozenset({"but"}),
        special_cases=vader.SPECIAL_CASES,
        never=frozenset({"never"}),
        so_this=frozenset({"so", "this"}),
        without=frozenset({"without"}),
        doubt=frozenset({"doubt"}),
        least=frozenset({"least"}),
        not_before_least=frozenset({"at", "very"}),
        no_word="no",
        no_or=frozenset({"or", "nor"}),
        skip_pairs=frozenset({("kind", "of")}),
    )
