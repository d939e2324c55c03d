"""Sentiment in Spanish, French and Portuguese: a furious customer alerts in every language, a
thank-you or a plain question does not, and English is scored by VADER exactly as before."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment import vaderSentiment as vader

from flows import sentiment_languages as languages
from flows.sentiment import scored_language, sentiment
from flows.sentiment_rules import RuleAnalyser, english_rules, fold

ALERT_BELOW = -0.6  # sentiment.alert_below's default

FURIOUS = {
    "es": [
        "Es una vergüenza, llevo tres semanas sin servicio, son unos inútiles",
        "es una verguenza, llevo tres semanas sin servicio, son unos inutiles",
        "Pésimo servicio, estoy furioso, nadie me da una solución",
        "pesimo servicio!!! estoy harto de llamar y que nadie conteste",
        "Son unos incompetentes, esto es inaceptable",
        "ESTO ES UNA ESTAFA, son unos ladrones",
        "Qué servicio tan horrible, el peor que he tenido, estoy muy enojado",
        "Me tienen harta, es ridículo, tres técnicos y nadie arregla nada. Pésima atención",
        "No sirven para nada, inutiles, una basura de servicio",
    ],
    "fr": [
        "C'est inadmissible, personne ne répond, je suis furieux",
        "c'est inadmissible, personne ne repond, je suis furieux",
        "Service nul, vous êtes des incompétents, c'est une honte",
        "J'en ai marre, trois semaines sans internet, c'est scandaleux !",
        "Je suis furieuse, c’est honteux, personne ne fait rien",
        "C'EST UNE ARNAQUE, vous êtes des voleurs",
        "Le pire service que j'ai jamais eu, vraiment lamentable",
        "Tres decu et tres enerve, c'est inacceptable",
        "Quelle honte, je suis vraiment en colère",
    ],
    "pt": [
        "Péssimo atendimento, estou muito irritado",
        "pessimo atendimento, estou muito irritado",
        "Que vergonha, três semanas sem internet, vocês são uns incompetentes",
        "Serviço horrível, estou furioso com essa falta de respeito",
        "Isso é um absurdo, ninguém resolve nada, estou revoltado",
        "VOCÊS SÃO UNS LADRÕES, isso é golpe",
        "Pior atendimento da minha vida, um lixo",
        "Estou muito decepcionada e irritada, inaceitavel",
        "Atendimento pessimo, vergonhoso, estou muito chateado",
    ],
}
CALM = {
    "es": [
        "Muchas gracias, ya funciona",
        "ya funciona",
        "¿cuándo llega el técnico?",
        "cuando llega el tecnico?",
        "Todo bien, gracias por la ayuda",
        "No, todavía no funciona",
        "¿Me pueden llamar mañana?",
        "no es malo",
        "sin problema, gracias",
    ],
    "fr": [
        "Merci beaucoup, ça marche",
        "ça marche",
        "Quand est-ce que le technicien passe ?",
        "ce n'est pas mal",
        "Parfait, merci pour votre aide",
        "Non, ça ne marche toujours pas",
        "Bonjour, une question sur ma facture",
        "Je ne suis jamais déçu par votre service",
    ],
    "pt": [
        "Obrigado, tudo certo",
        "tudo certo",
        "Quando o técnico vem?",
        "Muito obrigada, já está funcionando",
        "Ainda não funciona",
        "não é ruim",
        "Oi, tenho uma dúvida sobre a fatura",
        "Perfeito, ótimo atendimento",
    ],
}
ENGLISH = [
    "This is ridiculous, worst service ever, I am furious",
    "Thank you, it all works now and the engineer was great 👍",
    "Still not working. Please send someone out, I work from home!",
    "It's not bad, but the router is kind of slow :(",
    "NO!!! I am NOT happy",
    "when is the technician coming?",
]
LANGUAGES = ["es", "fr", "pt"]
# What VADER's English rules look for: the English lists are read exactly as VADER reads them.
VADER_PIECES = [
    *("not", "good", "but", "never", "kind", "of", "furious", "BAD!!!", "thanks", ":)", "😠"),
    *("no", "or", "nor", "very", "least", "at", "without", "doubt", "so", "this", "the"),
    *("bomb", "sort", "isn't", "great", "!", "?", ",", ".", "👍🏽", "GREAT", "yeah right"),
]


def _cases(table: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(language, text) for language, texts in table.items() for text in texts]


@pytest.mark.parametrize(("language", "text"), _cases(FURIOUS))
def test_a_furious_customer_alerts_in_every_language(language: str, text: str) -> None:
    assert sentiment(text, language) <= ALERT_BELOW
    assert sentiment(text) == sentiment(text, language)  # read in Spanish unprompted too


@pytest.mark.parametrize(("language", "text"), _cases(CALM))
def test_thanks_questions_and_plain_answers_do_not_alert(language: str, text: str) -> None:
    assert sentiment(text, language) > ALERT_BELOW
    assert sentiment(text) == sentiment(text, language)


def test_thanks_read_as_thanks() -> None:
    for text in ("Muchas gracias, ya funciona", "Merci beaucoup, ça marche", "Obrigado!"):
        assert sentiment(text) >= 0.4, text


@pytest.mark.parametrize(("language", "text"), [*_cases(FURIOUS), *_cases(CALM)])
def test_the_language_is_told_from_the_words(language: str, text: str) -> None:
    assert scored_language(text) == language


@pytest.mark.parametrize("text", [*ENGLISH, "no", "ok", "👍", "1042", "", "hmm"])
def test_english_or_unclear_is_read_as_english(text: str) -> None:
    assert scored_language(text) == "en"


def test_english_scores_are_vaders_own() -> None:
    english = vader.SentimentIntensityAnalyzer()
    for text in ENGLISH:
        expected = round(english.polarity_scores(text)["compound"], 2)
        assert sentiment(text) == sentiment(text, "en") == expected, text


def test_vaders_english_lists_are_left_as_they_were() -> None:
    for language in LANGUAGES:
        sentiment(FURIOUS[language][0], language)
    assert "no" not in vader.NEGATE and "nunca" not in vader.NEGATE
    assert "muy" not in vader.BOOSTER_DICT and "très" not in vader.BOOSTER_DICT


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(VADER_PIECES) | st.text(max_size=8),
        max_size=30,
    ).map(" ".join)
)
def test_the_rules_read_english_exactly_as_vader(text: str) -> None:
    """The analyser behind the other languages, given VADER's English lists, is VADER."""
    assert _english_port().polarity_scores(text) == _vader().polarity_scores(text)


def test_accents_are_optional() -> None:
    for language, accented, plain in [
        ("es", "vergüenza, inútiles", "verguenza, inutiles"),
        ("fr", "déçu, énervé", "decu, enerve"),
        ("pt", "péssimo, inaceitável", "pessimo, inaceitavel"),
    ]:
        assert sentiment(accented, language) == sentiment(plain, language) < 0


def test_negation_reads_each_language() -> None:
    assert sentiment("es bueno", "es") > 0 > sentiment("no es bueno", "es")
    assert sentiment("c'est bon", "fr") > 0 > sentiment("ce n'est pas bon", "fr")
    assert sentiment("é bom", "pt") > 0 > sentiment("não é bom", "pt")
    # Several negators are one negation, not a double one that turns it back.
    assert sentiment("no es nada bueno", "es") < 0
    assert sentiment("je ne suis pas content", "fr") < 0
    # A comma ends what "no" negates: "No, gracias" thanks.
    assert sentiment("No, gracias", "es") > 0


def test_intensifiers_caps_and_but_work_as_in_english() -> None:
    assert sentiment("muy malo", "es") < sentiment("malo", "es") < 0
    assert sentiment("très mauvais", "fr") < sentiment("mauvais", "fr") < 0
    assert sentiment("muito ruim", "pt") < sentiment("ruim", "pt") < 0
    assert sentiment("es MALO, muy", "es") < sentiment("es malo, muy", "es")
    assert sentiment("bueno pero horrible", "es") < sentiment("bueno y horrible", "es")
    assert sentiment("malo!!!", "es") < sentiment("malo", "es")


def test_emoji_read_with_their_english_names_in_every_language() -> None:
    for language in LANGUAGES:
        assert sentiment("😠", language) == sentiment("😠", "en") < 0
        assert sentiment(":(", language) == sentiment(":(", "en") < 0


def test_a_locale_or_an_unknown_language_is_accepted() -> None:
    text = FURIOUS["es"][0]
    assert sentiment(text, "es-MX") == sentiment(text, "ES") == sentiment(text, "es")
    assert sentiment(text, "de") == sentiment(text)  # no German lexicon: read the words


def test_the_lexicons_load_from_the_installed_package() -> None:
    for language in LANGUAGES:
        text = languages.lexicon_text(language)  # importlib.resources, not the source tree
        lexicon = languages.parse_lexicon(text)
        assert len(lexicon) >= 180, language
        assert text.startswith("#") and "Apache-2.0" in text and "VADER" in text
        assert all(-4 <= valence <= 4 for valence in lexicon.values())
        entries = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert all(len(line.split("\t")) == 3 for line in entries), language
        # Spelt with or without accents, a word has one valence.
        seen: dict[str, float] = {}
        for line in entries:
            word, mean = line.split("\t")[:2]
            assert seen.setdefault(fold(word), float(mean)) == float(mean), word


def test_no_negator_or_intensifier_is_also_a_lexicon_word() -> None:
    for language in LANGUAGES:
        rules = languages.rules_for(language)
        assert not (rules.negations | set(rules.boosters)) & set(rules.lexicon), language


@functools.cache
def _vader() -> vader.SentimentIntensityAnalyzer:
    return vader.SentimentIntensityAnalyzer()


@functools.cache
def _english_port() -> RuleAnalyser:
    return RuleAnalyser(english_rules(), _vader().emojis)
