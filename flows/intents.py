"""Read a customer's reply into an intent (README, How a case goes).

Pure functions of (text, keywords): no I/O and no state beyond a cache of compiled keyword sets.
The order of the checks is the policy:

1. opt-out, then opt-in: carriers want STOP honoured above everything else;
2. a lone 1-5 is a CSAT rating;
3. reopen before confirm: a wrong "confirm" closes a case that is still broken, the worst mistake
   the bot can make, so any sign that it still fails wins, and a confirm found in a question or
   next to a hedge ("maybe", "if", "will check later") does not count;
4. status, then help; anything else is unclear and goes to a person.

Single-word keywords count as the first word of the reply (after greetings); keywords with a space
are phrases matched on word boundaries anywhere. The words themselves are in flows.vocabulary.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from rapidfuzz.distance import OSA

from flows.vocabulary import (
    ANY_LANGUAGE,
    BARE_NO,
    CASE_WORDS,
    DEFAULT_LANGUAGES,
    EXACT_OPT_OUT,
    GREETINGS,
    HEDGE_RUNS,
    HEDGES,
    LANGUAGE_MARKERS,
    LEAD_INS,
    LISTS,
    MESSAGING,
    NEGATION_GAP,
    NEGATIONS,
    NOT_A_NO,
    NOT_KEYWORDS,
    NOT_TYPOS,
    PLAIN_NO,
    POLITE,
    QUESTION_OPENERS,
    RATING_WORDS,
    STOP_HEADS,
    STOP_TAIL,
    STRONG_OPT_OUT,
    WORKS,
    WORKS_ROMANCE,
)

__all__ = [
    "DEFAULT_KEYWORDS",
    "Intent",
    "Keywords",
    "Reading",
    "keywords_by_language",
    "normalize",
    "read_reply",
]

Lists = Mapping[str, Sequence[str]]  # list name ("confirm", ...) -> entries


class Intent(StrEnum):
    """What a customer's reply asks for."""

    CONFIRM = "confirm"
    REOPEN = "reopen"
    STATUS = "status"
    HELP = "help"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    RATING = "rating"
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class Keywords:
    """Keyword lists; an entry with a space is a phrase matched on word boundaries anywhere.

    The six lists are what is read, in every language at once. `languages` only labels entries
    with the language they are from (language, entries), so a reading can say its language; an
    entry in no label (ops' own words, emoji) is no language.
    """

    confirm: tuple[str, ...]
    reopen: tuple[str, ...]
    status: tuple[str, ...]
    help: tuple[str, ...]
    opt_out: tuple[str, ...]
    opt_in: tuple[str, ...]
    languages: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __post_init__(self) -> None:
        # Config code may hand over lists; tuples keep the instance hashable for the compile cache.
        for name in LISTS:
            object.__setattr__(self, name, tuple(str(w) for w in getattr(self, name)))
        labels = self.languages.items() if isinstance(self.languages, Mapping) else self.languages
        object.__setattr__(
            self, "languages", tuple((str(lang), tuple(map(str, words))) for lang, words in labels)
        )

    def answer_word(self, intent: Intent) -> str:
        """The one word to suggest (or a button to stand for): YES and REOPEN, as the README and
        our templates say them, unless ops took them out; then their first single word."""
        words = self.confirm if intent == Intent.CONFIRM else self.reopen
        usual = "yes" if intent == Intent.CONFIRM else "reopen"
        if any(w.casefold() == usual for w in words):
            return usual.upper()
        single = [w for w in words if " " not in w and w.isalpha()]
        return (single[0] if single else intent.value).upper()


@dataclass(frozen=True)
class Reading:
    """The intent of one reply, the case it names and, for a CSAT answer, the score."""

    intent: Intent
    case_id: int | None = None
    rating: int | None = None
    # The language whose words the reply is in ("en", "es", "fr", "pt"); None when the reply says
    # nothing of it (a digit, an emoji, "no" or "status" alone, words shared evenly) or is unclear.
    # Not compared: two readings that ask for the same thing are equal in any language.
    language: str | None = field(default=None, compare=False)


def keywords_by_language(
    lists: Mapping[str, Lists], shared: Lists = ANY_LANGUAGE, flat: Lists | None = None
) -> Keywords:
    """Keywords read in all the given languages at once, each entry labelled with its language.

    lists: language -> list name -> entries; shared: entries of no language (emoji); flat: list
    name -> entries that replace that list in every language (ops' flat `keywords:` lists).
    """
    merged = {
        name: (
            tuple((flat or {})[name])
            if name in (flat or {})
            else tuple(
                dict.fromkeys(
                    [*shared.get(name, ()), *(w for ls in lists.values() for w in ls.get(name, ()))]
                )
            )
        )
        for name in LISTS
    }
    labels = tuple(
        (lang, tuple(w for name in LISTS for w in ls.get(name, ()))) for lang, ls in lists.items()
    )
    return Keywords(**merged, languages=labels)


DEFAULT_KEYWORDS = keywords_by_language(DEFAULT_LANGUAGES)


# --- normalisation ---------------------------------------------------------------------------

# Dropped before NFKC, which would turn the acute accent into a space and a combining mark.
_APOSTROPHES = dict.fromkeys(map(ord, "'’‘‛ʼʻ`´′＇"))
_IGNORED = frozenset(
    [*range(0x1F3FB, 0x1F400), *range(0xFE00, 0xFE10), *range(0xE0000, 0xE0080), 0x200B]
)  # skin tones, variation selectors, tag characters, zero-width space
_ZWJ = "\u200d"


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def normalize(text: str) -> str:
    """NFKC, case-fold, strip accents and apostrophes; keep letters, digits, '#' and emoji."""
    text = unicodedata.normalize("NFKC", text.translate(_APOSTROPHES)).casefold()
    tokens: list[str] = []
    word: list[str] = []
    after_emoji = joined = False  # ZWJ glues the next emoji onto the last one (👩‍💻 stays whole)

    def flush() -> None:
        if word:
            tokens.append("".join(word))
            word.clear()

    for ch in unicodedata.normalize("NFD", text):
        cat = unicodedata.category(ch)
        if ord(ch) in _IGNORED or cat in ("Mn", "Me"):
            continue  # accents, keycap enclosures
        if ch == _ZWJ:
            joined = after_emoji
            continue
        if cat == "So":
            flush()
            if after_emoji and (joined or (_is_regional(ch) and len(tokens[-1]) == 1)):
                tokens[-1] += (_ZWJ if joined else "") + ch
            else:
                tokens.append(ch)
            after_emoji, joined = True, False
            continue
        after_emoji = joined = False
        if ch == "#":
            flush()
            word.append(ch)
        elif cat[0] in "LN" or cat == "Mc":
            word.append(ch)
        else:
            flush()
    flush()
    return unicodedata.normalize("NFC", " ".join(tokens))


# --- limits and patterns ---------------------------------------------------------------------

_MAX_CHARS = 2000  # a reply's intent is in its first sentences; the rest is kept, not read
_MAX_TOKENS = 60
_SHORT = 5  # only the first word of a reply this short is read through typos
_DIGITS = re.compile(r"\d{1,10}")
_CASE_REF = re.compile(r"#\d{1,10}|\d{3,10}")  # bare 1042 or #1042; "#2" but not a bare 2
_CLAUSES = re.compile(r"([.!?;\n¿¡？！。]+)")
_ELONGATED = re.compile(r"([^\W\d_])\1{2,}")
_DOUBLED = re.compile(r"([^\W\d_])\1+")

_THANKS = ("thanks", "thx", "ty", "gracias", "please", "pls", "merci", "obrigado", "obrigada")
_FIRST_WORD_INTENTS = (Intent.HELP, Intent.STATUS, Intent.CONFIRM, Intent.REOPEN)


# --- compiled keywords ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Compiled:
    first_words: dict[str, Intent]
    phrases: dict[Intent, re.Pattern[str] | None]
    opt_out: frozenset[str]
    stop_heads: dict[tuple[str, ...], bool]  # opening words of a stop request: strong or not
    opt_in_heads: dict[tuple[str, ...], bool]
    first_words_by_language: tuple[tuple[frozenset[str], frozenset[str]], ...]  # (langs, words)
    word_languages: dict[str, frozenset[str]]  # a single word read in these languages
    phrase_languages: tuple[tuple[str, re.Pattern[str] | None], ...]


def _phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = sorted(set(phrases), key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile(r"(?<!\S)(?:" + "|".join(map(re.escape, alternatives)) + r")(?!\S)")


@lru_cache(maxsize=16)
def _compile(keywords: Keywords) -> _Compiled:
    """Normalise every entry the way replies are normalised and sort words from phrases."""
    words: dict[Intent, list[str]] = {}
    phrases: dict[Intent, re.Pattern[str] | None] = {}
    for intent in (*_FIRST_WORD_INTENTS, Intent.OPT_OUT, Intent.OPT_IN):
        entries = [normalize(e) for e in getattr(keywords, intent.value)]
        words[intent] = [e for e in entries if e and " " not in e]
        phrases[intent] = _phrase_pattern(e for e in entries if " " in e)
    first_words: dict[str, Intent] = {}
    for intent in _FIRST_WORD_INTENTS:  # later wins: a word in two lists reads as reopen
        first_words.update(dict.fromkeys(words[intent], intent))
    stop_heads: dict[tuple[str, ...], bool] = dict(STOP_HEADS)
    stop_heads.update({(w,): w in STRONG_OPT_OUT for w in words[Intent.OPT_OUT]})
    opt_in_heads: dict[tuple[str, ...], bool] = {(w,): False for w in words[Intent.OPT_IN]}

    # Labels count only for entries that are read: an entry ops took out says nothing.
    read = {normalize(e) for name in LISTS for e in getattr(keywords, name)}
    languages: dict[str, set[str]] = {}
    for lang, labelled in keywords.languages:
        for entry in map(normalize, labelled):
            if entry in read:
                languages.setdefault(entry, set()).add(lang)
    for lang, runs in LANGUAGE_MARKERS.items():
        for run in runs:
            languages.setdefault(" ".join(run), set()).add(lang)
    word_languages = {e: frozenset(ls) for e, ls in languages.items() if " " not in e}
    langs = sorted({lang for ls in languages.values() for lang in ls})
    phrase_languages = tuple(
        (lang, _phrase_pattern(e for e, ls in languages.items() if " " in e and lang in ls))
        for lang in langs
    )
    # Typos are looked for in each language's words apart (and in unlabelled words apart).
    by_language: dict[frozenset[str], set[str]] = {}
    for lang in langs:
        by_language[frozenset([lang])] = {
            w for w in first_words if lang in word_languages.get(w, ())
        }
    unlabelled = {w for w in first_words if w not in word_languages}
    if unlabelled:
        by_language[frozenset()] = unlabelled
    return _Compiled(
        first_words,
        phrases,
        frozenset(words[Intent.OPT_OUT]),
        stop_heads,
        opt_in_heads,
        tuple((ls, frozenset(ws)) for ls, ws in by_language.items()),
        word_languages,
        phrase_languages,
    )


# --- reading a reply ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Message:
    tokens: tuple[str, ...]
    clause: tuple[int, ...]  # the sentence each token is in
    asked: frozenset[int]  # sentences that are questions
    text: str  # the tokens joined by single spaces, for phrase matching
    starts: tuple[int, ...]  # character offset of each token in text


def _tokenize(text: str) -> _Message:
    """Split a reply into sentences and normalised tokens, reading at most _MAX_TOKENS."""
    parts = _CLAUSES.split(text[:_MAX_CHARS])
    tokens: list[str] = []
    clause: list[int] = []
    asked: set[int] = set()
    opened = ""
    for n, body in enumerate(parts[::2]):
        if len(tokens) >= _MAX_TOKENS:
            break
        ending = parts[2 * n + 1] if 2 * n + 1 < len(parts) else ""
        if "?" in ending or "？" in ending or "¿" in opened:
            asked.add(n)
        opened = ending
        for token in normalize(body).split()[: _MAX_TOKENS - len(tokens)]:
            tokens.append(_ELONGATED.sub(r"\1\1", token))  # "yesss" -> "yess", "goood" -> "good"
            clause.append(n)
    starts: list[int] = []
    offset = 0
    for token in tokens:
        starts.append(offset)
        offset += len(token) + 1
    return _Message(tuple(tokens), tuple(clause), frozenset(asked), " ".join(tokens), tuple(starts))


def _run_at(tokens: Sequence[str], i: int, runs: frozenset[tuple[str, ...]]) -> int:
    """Length of the longest run that starts at index i, or 0."""
    return max((len(r) for r in runs if tuple(tokens[i : i + len(r)]) == r), default=0)


def _run_ending(tokens: Sequence[str], end: int, runs: frozenset[tuple[str, ...]]) -> int:
    """Length of the longest run that ends just before index end, or 0."""
    return max((len(r) for r in runs if tuple(tokens[max(end - len(r), 0) : end]) == r), default=0)


def _skip(tokens: Sequence[str], start: int, runs: Iterable[frozenset[tuple[str, ...]]]) -> int:
    """Index of the first token from start that does not begin one of the given runs."""
    groups = tuple(runs)
    i = start
    while i < len(tokens) and (step := max(_run_at(tokens, i, g) for g in groups)):
        i += step
    return i


def _is_noise(token: str) -> bool:
    return (not token.isalnum() and not token.startswith("#")) or token in CASE_WORDS


def _lead(tokens: Sequence[str], keywords: _Compiled, *, requests: bool) -> int:
    """Index of the reply's first meaningful word: greetings, case refs and stray emoji skipped."""
    runs = (GREETINGS, LEAD_INS) if requests else (GREETINGS,)
    i = 0
    while i < len(tokens) and tokens[i] not in keywords.first_words:
        named = i > 0 and tokens[i - 1] in CASE_WORDS and tokens[i].isdecimal()
        if _is_noise(tokens[i]) or _CASE_REF.fullmatch(tokens[i]) or named:
            i += 1
        elif (j := _skip(tokens, i, runs)) > i:
            i = j
        else:
            break
    return i


def _typo_of(word: str, candidates: Iterable[str]) -> tuple[str, int] | None:
    """The one keyword that word is a small typo of and how far, or None (conservative)."""
    if not word.isalpha() or len(word) < 3 or word in NOT_TYPOS:
        return None
    found: dict[str, int] = {}
    for keyword in candidates:
        if len(keyword) < 3 or not keyword.isalpha() or keyword in word or word in keyword:
            continue
        if word[0] != keyword[0] and word[:2] != keyword[1::-1]:
            continue  # typos keep the first letter, or swap the first two
        if len(keyword) <= 3:  # short words: only a swap of two letters
            swapped = len(word) == len(keyword) and sorted(word) == sorted(keyword)
            if swapped and OSA.distance(word, keyword) == 1:
                found[keyword] = 1
            continue
        limit = 2 if len(keyword) >= 7 else 1
        distance = OSA.distance(word, keyword, score_cutoff=limit)
        if distance <= limit:
            found[keyword] = distance
    if not found:
        return None
    best = min(found.values())
    nearest = [k for k, d in found.items() if d == best]
    return (nearest[0], best) if len(nearest) == 1 else None


def _typo_reading(word: str, keywords: _Compiled) -> tuple[Intent, frozenset[str]] | None:
    """The intent of a typo and the languages of the word it is a typo of.

    Each language's words are searched apart, so a word in one language does not make a typo of
    another language's word ambiguous; the nearest hits must all be of one intent.
    """
    hits: dict[str, tuple[int, set[str]]] = {}
    for langs, words in keywords.first_words_by_language:
        if (hit := _typo_of(word, words)) is not None:
            hits.setdefault(hit[0], (hit[1], set()))[1].update(langs)
    if not hits:
        return None
    best = min(d for d, _ in hits.values())
    nearest = {k: ls for k, (d, ls) in hits.items() if d == best}
    intents = {keywords.first_words[k] for k in nearest}
    if len(intents) != 1:
        return None
    return intents.pop(), frozenset(lang for ls in nearest.values() for lang in ls)


def _first_word_intent(message: _Message, keywords: _Compiled, at: int) -> Intent | None:
    """Intent of the word at index at, exactly, elongated ("yesss") or with a small typo."""
    if at >= len(message.tokens):
        return None
    word = message.tokens[at]
    if _run_at(message.tokens, at, NOT_KEYWORDS):
        return None
    for form in (word, _DOUBLED.sub(r"\1", word)):
        if form in keywords.first_words and not (form != word and word in NOT_TYPOS):
            intent = keywords.first_words[form]
            # One-letter words ("y") are too ambiguous ("y" is Spanish "and", texting "why") unless
            # they are the whole reply.
            alone = all(_is_noise(t) or _CASE_REF.fullmatch(t) for t in message.tokens[at + 1 :])
            return intent if len(form) > 1 or not form.isalpha() or alone else None
    if len(message.tokens) - at > _SHORT:
        return None
    typo = _typo_reading(word, keywords)
    return typo[0] if typo else None


def _stop_request(tokens: Sequence[str], heads: dict[tuple[str, ...], bool]) -> bool:
    """True for the keyword alone or a short request to stop messages ("stop texting me")."""
    words = [t for t in tokens if t.isalnum() or t.startswith("#")]  # emoji do not count
    start = _skip(words, 0, (GREETINGS,))
    core_start = _skip(words, start, (LEAD_INS, POLITE))
    only_polite = _skip(words, start, (POLITE,)) == core_start
    end = len(words)
    while end > core_start and (step := _run_ending(words, end, POLITE)):
        end -= step
    core = words[core_start:end]
    if not core or len(core) > 12:
        return False
    for head, strong in sorted(heads.items(), key=lambda h: -len(h[0])):
        if tuple(core[: len(head)]) != head:
            continue
        tail = core[len(head) :]
        if not tail:  # the word alone; a weak one not after a request ("i want to cancel")
            return strong or only_polite
        if all(t in STOP_TAIL or t == head[-1] for t in tail):
            return strong or any(t in MESSAGING for t in tail)
    return False


def _opt_out(message: _Message, keywords: _Compiled) -> bool:
    if _stop_request(message.tokens, keywords.stop_heads):
        return True
    pattern = keywords.phrases[Intent.OPT_OUT]
    if pattern is not None and pattern.search(message.text):
        return True
    words = [t for t in message.tokens if not _is_noise(t)]
    if len(words) != 1 or words[0] in keywords.first_words:
        return False
    return _typo_of(words[0], keywords.opt_out - EXACT_OPT_OUT) is not None


def _opt_in(message: _Message, keywords: _Compiled) -> bool:
    if _stop_request(message.tokens, keywords.opt_in_heads):
        return True
    pattern = keywords.phrases[Intent.OPT_IN]
    return pattern is not None and pattern.search(message.text) is not None


def _rating(tokens: Sequence[str], slashed: bool) -> int | None:
    """The score of a reply that is only a CSAT answer: "4", "5 stars", "5/5", "⭐⭐⭐"."""
    core = tokens[_skip(tokens, 0, (GREETINGS,)) :]
    while core and core[-1] in _THANKS:
        core = core[:-1]
    if core and len(core) <= 5 and all(t in ("⭐", "🌟") for t in core):
        return len(core)
    if not core or core[0] not in ("1", "2", "3", "4", "5"):
        return None
    rest = tuple(core[1:])
    if (
        rest in ((), ("out", "of", "5"), ("de", "5"), ("sur", "5"))
        or (slashed and rest == ("5",))
        or (len(rest) == 1 and rest[0] in RATING_WORDS)
    ):
        return int(core[0])
    return None


def _negation(tokens: Sequence[str], at: int) -> str | None:
    """The word that negates the token at index at, if one stands just before it."""
    for back in range(1, 4):
        i = at - back
        if i < 0 or (tokens[i] not in NEGATIONS and tokens[i] not in NEGATION_GAP):
            return None
        if tokens[i] in NEGATIONS:
            return tokens[i]
    return None


def _negated(tokens: Sequence[str], at: int) -> bool:
    """True for a confirm phrase a negation turns around ("isnt all good"); not a plain "no" or
    "nao", which also answer the question ("no, all good", "nao, tudo certo")."""
    negation = _negation(tokens, at)
    return negation is not None and negation not in PLAIN_NO


def _says_it_fails(message: _Message) -> bool:
    """A negated "works" word: "doesnt seem to work", "I cant log in", "no me funciona"."""
    for i, token in enumerate(message.tokens):
        if token in WORKS and _negated(message.tokens, i):
            return True
        if token in WORKS_ROMANCE and _negation(message.tokens, i) is not None:
            return True
    return False


def _phrase_hits(message: _Message, pattern: re.Pattern[str] | None) -> list[int]:
    """Token indexes where a phrase of the pattern starts."""
    if pattern is None:
        return []
    return [message.starts.index(m.start()) for m in pattern.finditer(message.text)]


def _hedged(message: _Message, clause: int) -> bool:
    """A question or a hedge in this sentence: a confirm there is not a confirm."""
    if clause in message.asked:
        return True
    indexes = [i for i, c in enumerate(message.clause) if c == clause]
    words = [message.tokens[i] for i in indexes]
    opener = _skip(words, 0, (GREETINGS,))
    if opener < len(words) and words[opener] in QUESTION_OPENERS:
        return True
    return any(w in HEDGES for w in words) or any(
        tuple(words[i : i + len(r)]) == r for i in range(len(words)) for r in HEDGE_RUNS
    )


def _case_id(tokens: Sequence[str], lead: int) -> int | None:
    """A case the reply names: "#1042" or "case 1042" anywhere, a bare 1042 next to the keyword."""
    for i, token in enumerate(tokens):
        explicit = token.startswith("#") or (i > 0 and tokens[i - 1] in CASE_WORDS)
        if explicit and _DIGITS.fullmatch(number := token.removeprefix("#")):
            return int(number)
    for token in tokens[: lead + 2]:
        if _CASE_REF.fullmatch(token):
            return int(token.removeprefix("#"))
    # A short bare number only as the whole answer to "reply YES followed by the case number".
    rest = [t for t in tokens[lead + 1 :] if not _is_noise(t)]
    if len(rest) == 1 and _DIGITS.fullmatch(rest[0]):
        return int(rest[0])
    return None


def _intent(message: _Message, keywords: _Compiled) -> Intent:
    tokens = message.tokens
    lead = _lead(tokens, keywords, requests=False)
    first = _first_word_intent(message, keywords, lead)
    request = _lead(tokens, keywords, requests=True)
    asked_for = _first_word_intent(message, keywords, request) if request != lead else first
    confirm_hits = _phrase_hits(message, keywords.phrases[Intent.CONFIRM])

    if (
        _phrase_hits(message, keywords.phrases[Intent.REOPEN])
        or _says_it_fails(message)
        or any(_negated(tokens, i) for i in confirm_hits)
    ):
        return Intent.REOPEN
    if Intent.REOPEN in (first, asked_for):
        said = lead if first is Intent.REOPEN else request
        word = _DOUBLED.sub(r"\1", tokens[said])
        if word not in BARE_NO:
            return Intent.REOPEN
        if word in PLAIN_NO and _run_at(tokens, said + 1, NOT_A_NO):
            pass  # "no problem", "no worries", "no update yet?": read on
        elif confirm_hits or _hedged(message, message.clause[said]):
            return Intent.UNCLEAR  # "nope, all good", "no, I haven't tried": a person decides
        else:
            return Intent.REOPEN

    if first is Intent.CONFIRM:
        confirm_hits.append(lead)
    if any(not _hedged(message, message.clause[i]) for i in confirm_hits):
        return Intent.CONFIRM

    for intent in (Intent.STATUS, Intent.HELP):
        if intent in (first, asked_for) or _phrase_hits(message, keywords.phrases[intent]):
            return intent
    return Intent.UNCLEAR


def _language(message: _Message, keywords: _Compiled, lead: int) -> str | None:
    """The language most of the reply's words are in, or None when none leads."""
    tokens = message.tokens
    votes: list[set[str]] = [set() for _ in tokens]
    for i, token in enumerate(tokens):
        # "siii" is "si"; but "estrellas" is Spanish, not Portuguese "estrelas".
        found = keywords.word_languages.get(token) or keywords.word_languages.get(
            _DOUBLED.sub(r"\1", token), frozenset()
        )
        votes[i].update(found)
    for lang, pattern in keywords.phrase_languages:
        for m in pattern.finditer(message.text) if pattern is not None else ():
            start = message.starts.index(m.start())
            for i in range(start, start + m.group().count(" ") + 1):
                votes[i].add(lang)
    if lead < len(tokens) and not votes[lead] and len(tokens) - lead <= _SHORT:
        if typo := _typo_reading(tokens[lead], keywords):
            votes[lead].update(typo[1])
        elif stop := _typo_of(tokens[lead], keywords.opt_out - EXACT_OPT_OUT):  # "unsubscibe"
            votes[lead].update(keywords.word_languages.get(stop[0], ()))
    counts = Counter(lang for langs in votes for lang in langs).most_common(2)
    if not counts or (len(counts) == 2 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def read_reply(text: str, keywords: Keywords = DEFAULT_KEYWORDS) -> Reading:
    """Read a customer's reply into its intent, the case it names and a CSAT score."""
    compiled = _compile(keywords)
    message = _tokenize(text)
    if not message.tokens:
        return Reading(Intent.UNCLEAR)  # a media-only message
    lead = _lead(message.tokens, compiled, requests=True)
    if _opt_out(message, compiled):
        return Reading(Intent.OPT_OUT, language=_language(message, compiled, lead))
    if _opt_in(message, compiled):
        return Reading(Intent.OPT_IN, language=_language(message, compiled, lead))
    rating = _rating(message.tokens, slashed="/" in text or "／" in text)
    if rating is not None:
        return Reading(Intent.RATING, rating=rating, language=_language(message, compiled, lead))
    intent = _intent(message, compiled)
    language = None if intent is Intent.UNCLEAR else _language(message, compiled, lead)
    return Reading(intent, case_id=_case_id(message.tokens, lead), language=language)
