"""Languages: a contact's locale picks the wording along es-MX -> es -> program.locale ->
English, within the channel and then in SMS wording; dates follow the locale; the chat page's
lang follows it. Translations live in temporary override folders, so these tests do not depend
on the packaged translations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Settings, check_locale, parse_config
from bot.core import Core, create_core
from bot.engine.links import build_links
from bot.errors import ConfigError
from bot.ops.config_check import sample_context
from bot.render import Templates, format_when, locale_chain
from bot.resources import templates_root
from bot.store.models import Contact, LogEntry
from bot.worker import tick
from channels.registry import ChannelRegistry
from channels.webchat import WebchatInbound, WebchatSender
from tests.conftest import (
    API_TOKEN,
    SECRET_KEY,
    TEST_CONFIG,
    Customer,
    auth_header,
    open_case,
    resolved_case,
)
from tests.support.fakes import FakeChannel
from tests.support.webchat_harness import ChatLink

NOV_24_3PM_NY = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)


def translations(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return root


@pytest.fixture(scope="module")
def english_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged templates without their translations, so the tests' own are the only ones."""
    root = tmp_path_factory.mktemp("english")
    for file in Path(templates_root()).glob("*/*.j2"):
        if file.name.count(".") == 2:  # interim.txt.j2, not interim.es.txt.j2
            (root / file.parent.name).mkdir(exist_ok=True)
            (root / file.parent.name / file.name).write_bytes(file.read_bytes())
    return root


def templates_with(root: Path, tmp_path: Path, files: dict[str, str], **config: Any) -> Templates:
    folder = translations(tmp_path / "templates", files)
    return Templates(parse_config(TEST_CONFIG | {"templates_dir": str(folder)} | config), root)


# -- the fallback chain ---------------------------------------------------------------------


def test_the_chain_goes_from_the_region_to_the_language_to_the_default() -> None:
    assert locale_chain("es-MX", "en") == [["es-MX", "es"], [""]]
    assert locale_chain(None, "en") == [[""]]
    assert locale_chain("fr", "es") == [["fr"], ["es"], [""]]
    assert locale_chain("en-GB", "es") == [["en-GB", ""]]  # English is the unsuffixed file


def test_es_mx_falls_back_to_es_then_to_english(english_root: Path, tmp_path: Path) -> None:
    templates = templates_with(
        english_root,
        tmp_path,
        {"sms/interim.es.txt.j2": "Caso {{ case.label }}: seguimos trabajando."},
    )
    context = sample_context(templates_config(tmp_path))
    assert templates.render("sms", "interim", context, locale="es-MX") == (
        "Caso #1042: seguimos trabajando."
    )
    assert templates.render("sms", "interim", context, locale="es") == (
        "Caso #1042: seguimos trabajando."
    )
    english_text = templates.render("sms", "interim", context)
    assert english_text.startswith("Update on case #1042")
    assert templates.render("sms", "interim", context, locale="fr") == english_text
    assert templates.render("sms", "interim", context, locale="en-GB") == english_text


def templates_config(tmp_path: Path) -> Any:
    return parse_config(TEST_CONFIG | {"templates_dir": str(tmp_path / "templates")})


def test_the_region_wins_over_the_language(english_root: Path, tmp_path: Path) -> None:
    templates = templates_with(
        english_root,
        tmp_path,
        {
            "sms/csat_thanks.es.txt.j2": "Gracias.",
            "sms/csat_thanks.es-MX.txt.j2": "¡Muchas gracias!",
        },
    )
    assert templates.render("sms", "csat_thanks", {}, locale="es-MX") == "¡Muchas gracias!"
    assert templates.render("sms", "csat_thanks", {}, locale="es-AR") == "Gracias."


def test_a_channel_without_the_translation_uses_the_sms_one_in_that_language(
    english_root: Path, tmp_path: Path
) -> None:
    # webchat/status.txt.j2 exists in English only: Spanish SMS wording beats it.
    templates = templates_with(
        english_root, tmp_path, {"sms/status.es.txt.j2": "Caso {{ case.label }}."}
    )
    context = sample_context(templates_config(tmp_path))
    assert templates.render("webchat", "status", context, locale="es-MX") == "Caso #1042."
    assert templates.has("webchat", "status", locale="es")
    english_status = templates.render("webchat", "status", context)
    assert english_status == templates.render("webchat", "status", context, locale="fr")


def test_the_channels_own_translation_wins_over_the_sms_one(
    english_root: Path, tmp_path: Path
) -> None:
    templates = templates_with(
        english_root,
        tmp_path,
        {"sms/status.es.txt.j2": "SMS es.", "webchat/status.es.txt.j2": "Chat es."},
    )
    assert templates.render("webchat", "status", {}, locale="es") == "Chat es."
    assert templates.render("slack", "status", {}, locale="es") == "SMS es."


def test_the_program_locale_is_the_default(english_root: Path, tmp_path: Path) -> None:
    templates = templates_with(
        english_root,
        tmp_path,
        {"sms/csat_thanks.es.txt.j2": "Gracias."},
        program={"name": "Acme", "contact": "x", "locale": "es"},
    )
    assert templates.render("sms", "csat_thanks", {}) == "Gracias."
    assert templates.render("sms", "csat_thanks", {}, locale="fr") == "Gracias."
    assert templates.render("sms", "csat_thanks", {}, locale="en-US").startswith("Thanks")


def test_block_kit_follows_the_locale(english_root: Path, tmp_path: Path) -> None:
    templates = templates_with(
        english_root,
        tmp_path,
        {"slack/confirm_request.es.json.j2": '[{"type": "section", "text": {{ text | tojson }}}]'},
    )
    blocks = templates.render_blocks("slack", "confirm_request", {"text": "hola"}, locale="es")
    assert blocks == [{"type": "section", "text": "hola"}]
    english_blocks = templates.render_blocks(
        "slack", "confirm_request", sample_context(templates_config(tmp_path)) | {"text": "hi"}
    )
    assert english_blocks is not None and english_blocks != blocks


def test_translations_in_config_are_keyed_by_name_and_locale(english_root: Path) -> None:
    config = parse_config(TEST_CONFIG | {"templates": {"sms": {"csat_thanks.es": "¡Gracias!"}}})
    templates = Templates(config, english_root)
    assert templates.render("sms", "csat_thanks", {}, locale="es-MX") == "¡Gracias!"
    assert templates.translations() == {"es": {("sms", "csat_thanks")}}


@pytest.mark.parametrize(
    ("file", "problem"),
    [
        ("sms/interim.xx.txt.j2", "unknown locale 'xx'"),
        ("sms/interim.es_MX.txt.j2", "spelt 'es-MX'"),
        ("sms/interim.en.txt.j2", "without a locale suffix"),
        ("sms/intrim.es.txt.j2", "unknown template"),
    ],
)
def test_a_translation_that_would_never_be_chosen_stops_start_up(
    english_root: Path, tmp_path: Path, file: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        templates_with(english_root, tmp_path, {file: "x"})


def test_a_good_translation_file_is_accepted(english_root: Path, tmp_path: Path) -> None:
    templates = templates_with(
        english_root, tmp_path, {"sms/interim.es.txt.j2": "x", "sms/help.pt-BR.txt.j2": "y"}
    )
    assert templates.translations() == {"es": {("sms", "interim")}, "pt-BR": {("sms", "help")}}


# -- locale tags ----------------------------------------------------------------------------


def test_locale_tags_are_spelt_one_way() -> None:
    assert [check_locale(t) for t in ("es_MX", "ES-mx", "es-mx", "pt_br", "fr")] == [
        "es-MX",
        "es-MX",
        "es-MX",
        "pt-BR",
        "fr",
    ]
    for bad in ("xx", "klingon", "../etc", "x" * 300, ""):
        with pytest.raises(ValueError, match="unknown locale"):
            check_locale(bad)


def test_the_api_stores_a_normalised_locale_and_refuses_an_unknown_one(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    case = open_case(client, auth, contact={"phone": "+12125550101", "locale": "es_mx"})
    assert case["contact"]["locale"] == "es-MX"
    refused = client.post(
        "/api/v1/cases",
        json={"subject": "x", "contact": {"phone": "+12125550102", "locale": "xx-nope"}},
        headers=auth,
    )
    assert refused.status_code == 422
    assert refused.get_json()["error"]["field"] == "contact.locale"


# -- dates ------------------------------------------------------------------------------------


def test_english_dates_read_as_they_always_did() -> None:
    assert format_when(NOV_24_3PM_NY, "America/New_York") == "Tue 24 Nov, 15:00 EST"
    assert format_when(NOV_24_3PM_NY, "America/New_York", "en") == "Tue 24 Nov, 15:00 EST"
    assert format_when(NOV_24_3PM_NY, "America/New_York", "en-GB") == "Tue 24 Nov, 15:00 EST"
    assert format_when(None, "UTC", "es") == ""


def test_dates_are_written_the_locales_way() -> None:
    assert format_when(NOV_24_3PM_NY, "America/New_York", "es") == "mar, 24 nov, 15:00 EST"
    assert format_when(NOV_24_3PM_NY, "America/New_York", "fr") == "mar. 24 nov., 15:00 EST"
    assert format_when(NOV_24_3PM_NY, "Europe/Paris", "fr") == "mar. 24 nov., 21:00 CET"
    assert format_when(NOV_24_3PM_NY, "America/Sao_Paulo", "pt-BR").startswith("ter., 24 de nov.")


# -- end to end -------------------------------------------------------------------------------


@pytest.fixture
def spanish_core(
    tmp_path: Path, database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Iterator[Core]:
    folder = translations(
        tmp_path / "templates",
        {
            "sms/interim.es.txt.j2": (
                "Caso {{ case.label }}: seguimos. Llega antes del {{ case.eta }}."
                "{% if case.next_update %} Próxima: {{ case.next_update }}.{% endif %}"
            ),
            "webchat/status_text.es.txt.j2": "Estamos en ello",
            "sms/confirm_thanks.es.txt.j2": "Gracias: el caso {{ case.label }} queda cerrado.",
        },
    )
    config = parse_config(TEST_CONFIG | {"templates_dir": str(folder)})
    settings = Settings(database_url=database_url, api_token=API_TOKEN, secret_key=SECRET_KEY)
    webchat = WebchatInbound(build_links(config, settings, clock), config, clock)
    registry = ChannelRegistry({**channels, "webchat": WebchatSender()}, {"webchat": webchat})
    built = create_core(config, settings, clock=clock, channels=registry)
    yield built
    built.engine.dispose()


def test_a_spanish_contact_gets_spanish_wording_and_dates(
    spanish_core: Core, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> None:
    api = create_app(core=spanish_core).test_client()
    open_case(
        api,
        auth_header(),
        eta="2026-11-25T12:00:00-05:00",
        contact={"phone": "+12125550101", "locale": "es-MX"},
    )
    open_case(api, auth_header(), contact={"phone": "+12125550102"})
    clock.advance(timedelta(hours=2, minutes=1))
    tick(spanish_core, "test")
    [spanish] = channels["sms"].bodies_to("+12125550101")
    assert spanish.startswith("Caso #1: seguimos. Llega antes del mié 25 de nov, 12:00 EST.")
    assert "Próxima: " in spanish and "EST." in spanish
    [english_update] = channels["sms"].bodies_to("+12125550102")
    assert english_update.startswith("Update on case #2")


def test_the_chat_page_speaks_the_contacts_language(spanish_core: Core) -> None:
    api = create_app(core=spanish_core).test_client()
    spanish = open_case(api, auth_header(), contact={"phone": "+12125550101", "locale": "es"})
    english_case = open_case(api, auth_header(), contact={"phone": "+12125550102"})
    html = ChatLink(api, spanish_core, spanish["webchat_url"]).page().get_data(as_text=True)
    assert '<html lang="es">' in html and "Estamos en ello" in html
    html = ChatLink(api, spanish_core, english_case["webchat_url"]).page().get_data(as_text=True)
    assert '<html lang="en">' in html and "We are working on it" in html


def test_a_contact_locale_is_stored_normalised(spanish_core: Core) -> None:
    api = create_app(core=spanish_core).test_client()
    open_case(api, auth_header(), contact={"phone": "+12125550101", "locale": "ES-mx"})
    with spanish_core.sessions() as session:
        assert session.query(Contact.locale).scalar() == "es-MX"


# -- a locale read from the customer's words ------------------------------------------------


def contact_locale(core: Core, phone: str) -> str | None:
    with core.sessions() as session:
        return session.scalar(select(Contact.locale).where(Contact.phone == phone))


def message_details(core: Core, case_id: int) -> list[dict[str, Any]]:
    with core.sessions() as session:
        return [
            dict(detail)
            for detail in session.scalars(
                select(LogEntry.detail)
                .where(LogEntry.case_id == case_id, LogEntry.event == "customer_message")
                .order_by(LogEntry.seq)
            )
        ]


def test_a_contact_who_writes_spanish_is_answered_in_spanish_from_then_on(
    spanish_core: Core, channels: dict[str, FakeChannel]
) -> None:
    api = create_app(core=spanish_core).test_client()
    case_id = resolved_case(api, auth_header(), contact={"phone": "+12125550101"})
    customer = Customer(spanish_core, channels, "+12125550101")
    customer.inbox()
    assert contact_locale(spanish_core, "+12125550101") is None
    customer.says("si ya funciona, gracias")
    assert customer.inbox()[0] == "Gracias: el caso #1 queda cerrado."
    assert contact_locale(spanish_core, "+12125550101") == "es"
    customer.says("sigue sin funcionar")  # inferred once: the second message says nothing of it
    first, second = message_details(spanish_core, case_id)
    assert first["words"] == "si ya funciona, gracias" and first["locale_inferred"] == "es"
    assert "locale_inferred" not in second


def test_a_locale_from_the_crm_always_wins(
    spanish_core: Core, channels: dict[str, FakeChannel]
) -> None:
    api = create_app(core=spanish_core).test_client()
    case_id = resolved_case(api, auth_header(), contact={"phone": "+12125550101", "locale": "fr"})
    Customer(spanish_core, channels, "+12125550101").says("si ya funciona")
    assert contact_locale(spanish_core, "+12125550101") == "fr"
    assert "locale_inferred" not in message_details(spanish_core, case_id)[0]


def test_english_words_and_wordless_replies_store_no_locale(
    spanish_core: Core, channels: dict[str, FakeChannel]
) -> None:
    api = create_app(core=spanish_core).test_client()
    resolved_case(api, auth_header(), contact={"phone": "+12125550101"})
    customer = Customer(spanish_core, channels, "+12125550101")
    customer.says("YES")
    customer.says("5")
    assert contact_locale(spanish_core, "+12125550101") is None
