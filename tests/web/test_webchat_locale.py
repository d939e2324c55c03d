"""The chat page in the customer's language (Flask's test client): its fixed words
(templates/webchat/page_words*.json.j2), its author label, a refused post and a link that no
longer opens, in Spanish and French; English as before; a translation that lacks a word
falls back to English."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import parse_config
from bot.core import Core
from bot.render import Templates
from channels.webchat import page_words, script_wording
from tests.conftest import TEST_CONFIG, auth_header, open_case
from tests.support.webchat_harness import ChatLink, act

ENGLISH_BUTTONS = ("Yes, it's fixed", "No, reopen it")


@pytest.fixture
def client(chat_core: Core) -> FlaskClient:
    return create_app(core=chat_core).test_client()


def chat_for(
    client: FlaskClient, core: Core, locale: str | None, **fields: Any
) -> tuple[int, ChatLink]:
    """A new case of a contact reading `locale` (None: the program's), and its chat link."""
    contact = {"name": "Lucía Pérez", "phone": "+12125550101"}
    if locale:
        contact["locale"] = locale
    case = open_case(client, auth_header(), contact=contact, **fields)
    return int(case["id"]), ChatLink(client, core, case["webchat_url"])


def shown_text(markup: str) -> str:
    """What the page says, tags and escapes undone (data-wording included, as chat.js reads
    it), so "Yes, it&#39;s fixed" is found as "Yes, it's fixed"."""
    return html.unescape(re.sub(r"<[^>]+>", " ", markup)) + html.unescape(markup)


def english_sentences(core: Core) -> list[str]:
    """Every fixed sentence an English page carries: its words and what chat.js may say."""
    wording = script_wording(core.templates, core.config, "en")
    said = [v for k, v in wording.items() if isinstance(v, str)]
    return [*page_words(core.templates, core.config, "en").values(), *said]


def test_a_spanish_page_has_no_english_fixed_sentence(client: FlaskClient, chat_core: Core) -> None:
    case_id, chat = chat_for(client, chat_core, "es")
    act(client, case_id, "resolve", resolution="Cambiamos el router.")
    chat.says("¿Y ahora qué?")
    page = chat.page()
    assert page.status_code == 200
    markup = page.get_data(as_text=True)
    text = shown_text(markup)
    assert '<html lang="es">' in markup
    # The labels the status and confirm_request templates name.
    assert "Sí, está resuelto" in text and "No, reabrir" in text
    assert "Qué hicimos:" in text and "¿Está resuelto?" in text
    assert "Hasta 2000 caracteres." in text and "Enviar" in text
    assert ">Usted<" in markup  # the customer's own message
    for english in english_sentences(chat_core):
        assert english not in text, english
    for button in ENGLISH_BUTTONS:
        assert button not in text


def test_the_json_api_names_the_spanish_customer_in_spanish(
    client: FlaskClient, chat_core: Core
) -> None:
    _, chat = chat_for(client, chat_core, "es-MX")
    posted = chat.says("Hola")["message"]
    assert posted["author"] == "Usted"
    assert [m["author"] for m in chat.poll()["messages"] if m["from"] == "customer"] == ["Usted"]


def test_a_refused_post_is_explained_in_spanish(client: FlaskClient, chat_core: Core) -> None:
    _, chat = chat_for(client, chat_core, "es")
    too_long = chat.post(text="x" * 2001)
    assert too_long.status_code == 413
    message = too_long.get_json()["error"]["message"]
    assert message.startswith("Su mensaje tiene 2,001 caracteres")
    # The no-script form: the page again, the problem in Spanish under the box.
    form = client.post(f"{chat.path}/messages", data={"text": "x" * 2001})
    assert form.status_code == 413
    assert "Divídalo en dos" in html.unescape(form.get_data(as_text=True))


def test_a_replaced_link_is_explained_in_the_contacts_language(
    client: FlaskClient, chat_core: Core
) -> None:
    case_id, chat = chat_for(client, chat_core, "es")
    act(client, case_id, "webchat/revoke")
    page = chat.page()
    assert page.status_code == 410
    markup = html.unescape(page.get_data(as_text=True))
    assert '<html lang="es">' in markup
    assert "Este enlace ha sido sustituido" in markup and "¿Necesita ayuda?" in markup
    error = chat.post(text="hola").get_json()["error"]
    assert error["message"].startswith("Este enlace ha sido sustituido")


def test_an_expired_link_is_explained_in_the_browsers_language(
    client: FlaskClient, chat_core: Core, clock: FrozenClock
) -> None:
    """An expired link no longer says whose it is: the browser's language words it."""
    _, chat = chat_for(client, chat_core, "es")
    clock.advance(chat_core.config.channels.webchat.link_ttl)
    clock.advance(chat_core.config.worker.send_every)
    spanish = {"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}
    page = client.get(chat.path, headers=spanish)
    assert page.status_code == 410
    markup = html.unescape(page.get_data(as_text=True))
    assert '<html lang="es">' in markup and "Este enlace ha caducado" in markup
    polled = client.get(f"{chat.path}/messages", headers=spanish)
    assert polled.get_json()["error"]["message"].startswith("Este enlace ha caducado")
    english = client.get(chat.path)
    assert "This link has expired" in english.get_data(as_text=True)


def test_a_french_page_speaks_french(client: FlaskClient, chat_core: Core) -> None:
    case_id, chat = chat_for(client, chat_core, "fr")
    act(client, case_id, "resolve", resolution="Nous avons changé le routeur.")
    chat.says("Merci")
    markup = chat.page().get_data(as_text=True)
    text = shown_text(markup)
    assert '<html lang="fr">' in markup
    assert "Oui, c'est réglé" in text and "Non, rouvrir" in text and ">Vous<" in markup
    assert "Envoyer" in text and "Votre message" in text
    french = page_words(chat_core.templates, chat_core.config, "fr").values()
    for english in english_sentences(chat_core):
        assert english in french or english not in text, english  # "Conversation" is both
    assert chat.post(text="x" * 2001).get_json()["error"]["message"].startswith("Votre message")


def test_an_english_page_reads_as_before(client: FlaskClient, chat_core: Core) -> None:
    case_id, chat = chat_for(client, chat_core, None)
    act(client, case_id, "resolve", resolution="We replaced the router.")
    chat.says("Thanks")
    markup = chat.page().get_data(as_text=True)
    text = shown_text(markup)
    assert '<html lang="en">' in markup and ">You<" in markup
    for sentence in (
        *ENGLISH_BUTTONS,
        "Is it fixed?",
        "What we did:",
        "Your message",
        "Up to 2000 characters.",
        "Messages about your case",
        "Press Ctrl+Enter (⌘+Enter on a Mac) to send.",
    ):
        assert sentence in text, sentence


def test_a_word_a_translation_lacks_reads_in_english(tmp_path: Path) -> None:
    folder = tmp_path / "webchat"
    folder.mkdir()
    (folder / "page_words.es.json.j2").write_text('{"send": "Mandar"}', encoding="utf-8")
    config = parse_config(TEST_CONFIG | {"templates_dir": str(tmp_path)})
    words = page_words(Templates(config), config, "es-MX")
    assert words["send"] == "Mandar"
    assert words["confirm_yes"] == "Yes, it's fixed"  # the English file fills the gap
    assert page_words(Templates(config), config, "pt")["send"] == "Enviar"


# -- whole journeys over the chat page ----------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "said", "expect"),
    [
        (
            "+34 612 345 678",
            ["¿Cuándo lo arreglan?", "Gracias por avisar"],
            {
                "update": "Novedades del caso",
                "status": "Estamos trabajando en el caso",
                "ask": "debajo de la conversación",
                "rate": "5",
            },
        ),
        (
            "+33 6 12 34 56 78",
            ["C'est pour quand ?", "Merci pour l'info"],
            {
                "update": "Votre dossier",
                "status": "Nous traitons votre dossier",
                "ask": "sous la conversation",
                "rate": "4",
            },
        ),
    ],
)
def test_a_case_lived_on_the_chat_page_in_the_customers_language(
    client: FlaskClient,
    chat_core: Core,
    clock: FrozenClock,
    phone: str,
    said: list[str],
    expect: dict[str, str],
) -> None:
    """Created by the API with only a number and the web chat as channel: the number's country
    gives the language; every message the page shows from the team is in it, buttons answer
    in it, and the customer's words are kept as written."""
    contact = {"phone": phone, "channel": "webchat"}
    case = open_case(client, auth_header(), subject="Fibra sin señal", contact=contact)
    chat = ChatLink(client, chat_core, case["webchat_url"])
    clock.advance(timedelta(hours=2, minutes=1))
    assert any(b.startswith(expect["update"]) for b in chat.bodies())
    chat.says(said[0])
    assert chat.bodies()[-1].startswith(expect["status"])
    act(client, case["id"], "resolve", resolution="Fibra reparada.")
    assert expect["ask"] in chat.bodies()[-1]
    assert chat.post(action="confirm").status_code == 201
    assert chat.post(action="rate", score=expect["rate"]).status_code == 201
    chat.says(said[1])
    messages = chat.poll()["messages"]
    mine = [m["body"] for m in messages if m["from"] == "customer"]
    assert mine[0] == said[0] and mine[-1] == said[1]
    team = [m["body"] for m in messages if m["from"] != "customer"]
    english = re.compile(r"\b(Case|Update on|Reply|Thanks|Tap|Write)\b")
    assert team and not [body for body in team if english.search(body)], team
    record = client.get(f"/api/v1/cases/{case['id']}", headers=auth_header()).get_json()
    assert (record["status"], record["csat_score"]) == ("closed", int(expect["rate"]))
