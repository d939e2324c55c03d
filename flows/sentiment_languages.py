"""Spanish, French and Portuguese for flows.sentiment: each language's VADER rules (its lexicon,
shipped as flows/lexicons/<code>.txt, and its negators, intensifiers and "but"), and which
language a message is in when nobody says.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib.resources import files

from vaderSentiment import vaderSentiment as vader

from flows.sentiment_rules import EMOJI_WORD, LanguageRules, RuleAnalyser, fold
from flows.vocabulary import DEFAULT_LANGUAGES, LANGUAGE_MARKERS

ENGLISH = "en"
LANGUAGES = ("en", "es", "fr", "pt")
UP, DOWN = vader.B_INCR, vader.B_DECR  # VADER's own steps for "very" and "slightly"


def _words(spaced: str) -> frozenset[str]:
    return frozenset(fold(word) for word in spaced.split())


def _boosters(up: str, down: str) -> dict[str, float]:
    """Words and two-word phrases ("un poco"), folded; "_" joins the words of a phrase."""
    steps = {fold(w.replace("_", " ")): UP for w in up.split()}
    return steps | {fold(w.replace("_", " ")): DOWN for w in down.split()}


@dataclass(frozen=True)
class _RuleWords:
    """The words around a language's lexicon; a negator or intensifier is no lexicon word."""

    negations: frozenset[str]
    no_word: str  # the language's plain "no", read as VADER reads English "no"
    boosters: dict[str, float]
    contrast: frozenset[str]
    never: frozenset[str]
    so_this: frozenset[str]
    without: frozenset[str]
    doubt: frozenset[str]


_RULE_WORDS = {
    "es": _RuleWords(
        negations=_words("nunca jamás nada nadie ni ningún ninguno ninguna sin tampoco"),
        no_word="no",
        boosters=_boosters(
            "muy mucho muchísimo muchísima demasiado demasiada totalmente completamente"
            " absolutamente realmente súper super tan tanto sumamente extremadamente"
            " increíblemente bastante más",
            "poco algo casi apenas ligeramente un_poco medio",
        ),
        contrast=_words("pero"),
        never=_words("nunca jamás"),
        so_this=_words("tan tanto"),
        without=_words("sin"),
        doubt=_words("duda"),
    ),
    "fr": _RuleWords(
        negations=_words("ne n' pas jamais rien personne aucun aucune sans ni guère"),
        no_word="non",
        boosters=_boosters(
            "très trop vraiment complètement totalement absolument tellement extrêmement super"
            " hyper vachement énormément carrément particulièrement",
            "peu un_peu presque légèrement plutôt",
        ),
        contrast=_words("mais"),
        never=_words("jamais"),
        so_this=_words("si aussi autant"),
        without=_words("sans"),
        doubt=_words("doute"),
    ),
    "pt": _RuleWords(
        negations=_words("nunca jamais nada nem ninguém nenhum nenhuma sem tampouco"),
        no_word="não",
        boosters=_boosters(
            "muito muita muitíssimo demais bastante super totalmente completamente"
            " absolutamente realmente tão extremamente incrivelmente bem mega",
            "pouco um_pouco quase meio levemente ligeiramente",
        ),
        contrast=_words("mas porém"),
        never=_words("nunca jamais"),
        so_this=_words("tão"),
        without=_words("sem"),
        doubt=_words("dúvida"),
    ),
}

# Small words that say which language a message is in, besides its lexicon's words and the
# keyword readers' LANGUAGE_MARKERS (folded, apostrophes dropped: "c'est" is "cest").
_STOP_WORDS = {
    "en": "the a an and or is are was were be been it its this that of to in on at for with my"
    " your our we you they i me he she not no dont doesnt didnt cant wont isnt still yet again"
    " now please thanks thank hi hello why what when where how who has have had will would"
    " could should been there their here from about ok okay yes y yep yeah nope same before"
    " after problem issue fixed broken service day days week weeks as so if then than all any"
    " some very really just only also too much more most other being do does did done get"
    " going know need want like time back up down out over good bad new one two three today"
    " yesterday tomorrow since ago nothing anything someone nobody never called help hours"
    " minutes waiting wait refund money account order case internet phone line guys",
    "es": "de la que el en y los se del las un por con una su para es al lo como mas pero sus"
    " le ya este si porque esta entre cuando muy sin sobre tambien me hasta hay donde quien"
    " desde todo nos todos uno les ni otros ese eso esto antes yo otro otra el tanto esa"
    " estos mucho nada muchos poco ella estar estas algo nosotros mi mis tu te usted ustedes"
    " estoy estamos estan tengo tiene tienen llevo semanas dias hace hoy ayer manana tecnico"
    " servicio llamada factura atencion cliente nadie nunca sigue son unos unas vez novedad"
    " falta cuanto alguna medias igual continua",
    "fr": "le la les de des du un une et est en que qui ne pas je vous il elle nous on ce cette"
    " ces mon ma mes ton votre vos son sa ses au aux pour par sur dans avec sans mais ou donc"
    " car plus tres tout tous rien personne jamais toujours encore depuis semaine semaines"
    " jours aujourdhui hier demain technicien client facture appel repond suis ai avez etes"
    " sont ete fait faire marche fonctionne ca cest jai nest quand pourquoi comment quel"
    " change toujours",
    "pt": "o a os as de do da dos das um uma e em no na nos nas que nao com para por pelo pela"
    " mais muito ja ainda eu voce voces ele ela nos meu minha seu sua isso isto esse essa esta"
    " estou estao tem tenho foi ser fazer nada ninguem nunca sempre quando onde porque como"
    " semana semanas dias hoje ontem amanha tecnico servico atendimento cliente conta fatura"
    " ligacao funciona funcionando vou vai tudo certo continua igual sem parou novo novidade"
    " situacao qual alguma",
}
_WORD = re.compile(r"[^\W\d_]+")


def lexicon_text(code: str) -> str:
    """The lexicon file shipped for `code`, read from the installed package."""
    return (files("flows") / "lexicons" / f"{code}.txt").read_text(encoding="utf-8")


def parse_lexicon(text: str) -> dict[str, float]:
    """VADER's lexicon format (word<TAB>mean, further columns ignored), comments skipped,
    words folded so that accents are optional."""
    lexicon: dict[str, float] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            word, mean = line.split("\t")[:2]
            lexicon[fold(word)] = float(mean)
    return lexicon


@functools.cache
def _english() -> vader.SentimentIntensityAnalyzer:
    return vader.SentimentIntensityAnalyzer()


def _borrowed_from_english() -> dict[str, float]:
    """What every language reads as VADER does: emoticons (":(", "<3") and the English names
    of emoji, whose words are marked (EMOJI_WORD) so no word of another language matches."""
    english = _english()
    emoticons = {
        fold(entry): valence
        for entry, valence in english.lexicon.items()
        if not entry.isalnum() and sum(c.isalpha() for c in entry) < 3
    }
    named = {word for name in english.emojis.values() for word in name.lower().split()}
    emoji_words = {
        EMOJI_WORD + word: english.lexicon[word] for word in named if word in english.lexicon
    }
    return emoticons | emoji_words


def rules_for(code: str) -> LanguageRules:
    words = _RULE_WORDS[code]
    no_word = fold(words.no_word)
    lexicon = _borrowed_from_english() | parse_lexicon(lexicon_text(code))
    lexicon[no_word] = _english().lexicon["no"]  # "No." alone, as VADER reads English "no"
    return LanguageRules(
        code=code,
        lexicon=lexicon,
        negations=words.negations,
        boosters=words.boosters,
        contrast=words.contrast,
        never=words.never,
        so_this=words.so_this,
        without=words.without,
        doubt=words.doubt,
        no_word=no_word,
        romance=True,
    )


@functools.cache
def analyser_for(code: str) -> RuleAnalyser:
    """One analyser per language and process (its lexicon is read once)."""
    return RuleAnalyser(rules_for(code), _english().emojis)


@functools.cache
def _language_words() -> dict[str, frozenset[str]]:
    """Per language, the words that say a message is in it."""
    by_language: dict[str, set[str]] = {}
    for code in LANGUAGES:
        markers = {run[0] for run in LANGUAGE_MARKERS.get(code, frozenset()) if len(run) == 1}
        keywords = {word for entries in DEFAULT_LANGUAGES[code].values() for word in entries}
        words = markers | keywords | set(_STOP_WORDS[code].split())
        if code != ENGLISH:
            lexicon = parse_lexicon(lexicon_text(code))
            rule = _RULE_WORDS[code]
            words |= {w.replace("'", "") for w in lexicon} | set(rule.boosters)
            words |= {fold(rule.no_word), *rule.negations, *rule.contrast}
        by_language[code] = {fold(w).replace("'", "") for w in words if " " not in w}
    return {code: frozenset(words) for code, words in by_language.items()}


def detect_language(text: str) -> str:
    """The language whose words `text` uses most, English when none leads: each word counts
    for each language it is in, shared ("no", "de") in equal parts. Between other languages
    that tie, the one with more words of its own leads ("não, continua igual")."""
    known = _language_words()
    scores = dict.fromkeys(LANGUAGES, 0.0)
    own = dict.fromkeys(LANGUAGES, 0)
    for word in _WORD.findall(fold(text).replace("'", "")):
        holders = [code for code in LANGUAGES if word in known[code]]
        for code in holders:
            scores[code] += 1 / len(holders)
        if len(holders) == 1:
            own[holders[0]] += 1
    best = max(scores.values())
    leaders = [code for code, score in scores.items() if score == best]
    if best == 0 or ENGLISH in leaders:
        return ENGLISH
    most_own = max(own[code] for code in leaders)
    ahead = [code for code in leaders if own[code] == most_own]
    return ahead[0] if len(ahead) == 1 else ENGLISH


def language_code(language: str | None) -> str | None:
    """ "es-MX", "pt_BR", "FR" -> the language it names, if this module reads it."""
    if not language:
        return None
    code = re.split(r"[-_]", language.strip(), maxsplit=1)[0].lower()
    return code if code in LANGUAGES else None
