"""flows.intents in Spanish, French and Portuguese: the replies corpus per language, the words our
templates tell customers to send, accents, typos and the words that must not cross languages."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from flows.intents import Intent, read_reply
from tests.support.ci import missing

OWN_CORPUS = Path(__file__).resolve().parents[1] / "data" / "replies_i18n.tsv"
SHARED_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "data" / "replies_i18n.tsv"
LANGUAGES = ("es", "fr", "pt")
MIN_RIGHT = 0.97

Row = tuple[str, str, Intent]  # language, text, intent


def load_corpus(path: Path) -> list[Row]:
    """Lines of `lang<TAB>text<TAB>intent`; blank lines and `#` comments are skipped."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        assert len(parts) == 3, f"{path.name}:{number}: not lang<TAB>text<TAB>intent: {line!r}"
        lang, text, intent = parts
        rows.append((lang.strip(), text, Intent(intent.strip())))
    return rows


def shared_corpus() -> Path:
    """The team's shared corpus; its absence fails in CI and only skips on a laptop."""
    if not SHARED_CORPUS.is_file():
        missing(f"shared corpus not checked out beside the repo: {SHARED_CORPUS}")
    return SHARED_CORPUS


def score(rows: list[Row]) -> dict[str, dict[str, list[str]]]:
    """Per language: every line, the misread ones, false confirms, false opt-outs, and readings
    that name another language."""
    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for lang, text, want in rows:
        reading = read_reply(text)
        got, seen = reading.intent, found[lang]
        seen["all"].append(text)
        if got != want:
            seen["wrong"].append(f"{text!r}: expected {want}, got {got}")
        if got is Intent.CONFIRM and want is not Intent.CONFIRM:
            seen["false_confirm"].append(text)
        if got is Intent.OPT_OUT and want is not Intent.OPT_OUT:
            seen["false_opt_out"].append(text)
        if reading.language not in (lang, None):
            seen["other_language"].append(f"{text!r}: read as {reading.language}")
    return found


def assert_good(rows: list[Row]) -> None:
    found = score(rows)
    assert sorted(found) == sorted(LANGUAGES)
    for lang in LANGUAGES:
        seen = found[lang]
        right = 1 - len(seen["wrong"]) / len(seen["all"])
        assert right >= MIN_RIGHT, (lang, f"{right:.1%}", seen["wrong"])
        assert seen["false_confirm"] == [], lang
        assert seen["false_opt_out"] == [], lang
        assert seen["other_language"] == [], lang


def test_own_corpus_per_language() -> None:
    rows = load_corpus(OWN_CORPUS)
    counts = {lang: sum(1 for row in rows if row[0] == lang) for lang in LANGUAGES}
    assert min(counts.values()) >= 50, counts
    assert_good(rows)


def test_shared_corpus_per_language() -> None:
    # Scored with the project's lines: the shared set alone is too small for a 97% bar per
    # language (one line of 23 is 4%), and the project copy must hold it anyway (below).
    own = load_corpus(OWN_CORPUS)
    shared = load_corpus(shared_corpus())
    assert shared
    assert_good(own + [row for row in shared if row not in own])


def test_own_corpus_holds_every_shared_line() -> None:
    own = set(load_corpus(OWN_CORPUS))
    assert [row for row in load_corpus(shared_corpus()) if row not in own] == []


# --- the words our es/fr/pt templates tell customers to send ------------------------------------


@pytest.mark.parametrize(
    ("text", "intent", "language"),
    [
        ("SI", Intent.CONFIRM, "es"),
        ("OUI", Intent.CONFIRM, "fr"),
        ("SIM", Intent.CONFIRM, "pt"),
        ("REABRIR", Intent.REOPEN, None),  # Spanish and Portuguese
        ("ROUVRIR", Intent.REOPEN, "fr"),
        ("ESTADO", Intent.STATUS, "es"),
        ("STATUT", Intent.STATUS, "fr"),
        ("STATUS", Intent.STATUS, None),  # English and Portuguese
        ("AYUDA", Intent.HELP, "es"),
        ("AIDE", Intent.HELP, "fr"),
        ("AJUDA", Intent.HELP, "pt"),
        ("BAJA", Intent.OPT_OUT, "es"),
        ("ARRET", Intent.OPT_OUT, "fr"),
        ("PARAR", Intent.OPT_OUT, None),  # Spanish and Portuguese
        ("ALTO", Intent.OPT_OUT, "es"),
        ("CANCELAR", Intent.OPT_OUT, None),
        ("SAIR", Intent.OPT_OUT, "pt"),
        ("START", Intent.OPT_IN, None),
        ("ALTA", Intent.OPT_IN, "es"),  # "Responda START (o ALTA)"
        ("SI 1042", Intent.CONFIRM, "es"),
        ("REABRIR #1042", Intent.REOPEN, None),
    ],
)
def test_template_words(text: str, intent: Intent, language: str | None) -> None:
    reading = read_reply(text)
    assert (reading.intent, reading.language) == (intent, language)


@pytest.mark.parametrize("text", ["arrêt", "ARRÊT", "Arret", "arret", "ＡＲＲＥＴ", "arrêt svp"])
def test_accents_and_case_do_not_matter(text: str) -> None:
    assert read_reply(text).intent is Intent.OPT_OUT


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("sí, gracias", "es"),
        ("oui merci", "fr"),
        ("sim, obrigado", "pt"),
        ("no, todavía no funciona", "es"),
        ("non, ça ne marche toujours pas", "fr"),
        ("não, ainda não funciona", "pt"),
        ("reabrir por favor, sigue sin señal", "es"),
        ("reabrir, ainda está com problema", "pt"),
        ("qual o status do meu caso?", "pt"),
        ("5 étoiles", "fr"),
    ],
)
def test_the_rest_of_the_message_decides(text: str, language: str) -> None:
    assert read_reply(text).language == language


@pytest.mark.parametrize("text", ["no", "NO", "status", "reabrir", "stop", "parar", "👍", "3"])
def test_words_shared_by_languages_are_no_language(text: str) -> None:
    assert read_reply(text).language is None


# --- typos, per language, and words that must not cross -----------------------------------------


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("ouii", Intent.CONFIRM),
        ("simm", Intent.CONFIRM),
        ("resolvdo", Intent.CONFIRM),
        ("funcionuo", Intent.CONFIRM),
        ("rouvir", Intent.REOPEN),
        ("reabir", Intent.REOPEN),
        ("sttaut", Intent.STATUS),
        ("situacao", Intent.STATUS),
        ("ajdua", Intent.HELP),
        ("aied", Intent.HELP),
        ("desabonnner", Intent.OPT_OUT),
        ("arrte", Intent.OPT_OUT),
    ],
)
def test_small_typos_in_each_language(text: str, intent: Intent) -> None:
    assert read_reply(text).intent is intent


@pytest.mark.parametrize(
    "text",
    [
        # Real words one letter from a new keyword: never a confirm or an opt-out.
        "said",  # sair
        "also",
        "pagar",  # parar
        "cancelado",  # cancelar
        "cancelei",
        "arrest",  # arret
        "arrested",  # arreter
        "lista",  # listo
        "lists",
        "regla",  # regle
        "repara",
        "arruinado",  # arrumado
        "concertado",  # consertado
        "ano",  # nao
        "noon",  # non
        "preciso",  # previsao
        "SIM card",
        "sim card needs replacing",
        "alta velocidad",
        "dar de alta",
        "muy alto",
        "quero sair de casa",
        "pagar la factura",
        "cancelar el pedido",
        "à l'arrêt depuis hier",
        "arrêt de travail",
        "no gracias",
        "não tem problema",
        "pas de problème",
        "tudo bem?",
        "non merci",
        "je ne sais pas encore",
        "ojalá funcione",
    ],
)
def test_no_false_confirm_or_opt_out_across_languages(text: str) -> None:
    assert read_reply(text).intent not in (Intent.CONFIRM, Intent.OPT_OUT, Intent.OPT_IN)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("no", Intent.REOPEN),
        ("não", Intent.REOPEN),
        ("non", Intent.REOPEN),
        ("nao, tudo certo", Intent.UNCLEAR),  # a no beside a confirm: a person decides
        ("non, ça marche", Intent.UNCLEAR),
        ("não sei", Intent.UNCLEAR),
        ("oui mais non", Intent.REOPEN),
        ("sim, mas ainda não funciona", Intent.REOPEN),
        ("sí, pero sigue fallando", Intent.REOPEN),
        ("ce n'est pas réglé", Intent.REOPEN),
        ("não está resolvido", Intent.REOPEN),
        ("no está resuelto", Intent.REOPEN),
        ("funciona mal", Intent.REOPEN),
        ("ça marche ?", Intent.UNCLEAR),
        ("está funcionando?", Intent.UNCLEAR),
        ("peut-être que ça marche", Intent.UNCLEAR),
    ],
)
def test_no_and_doubt_in_each_language(text: str, intent: Intent) -> None:
    assert read_reply(text).intent is intent
