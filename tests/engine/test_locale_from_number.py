"""A contact created with only a phone number reads the language of the number's country when
keepposted speaks it; a locale the CRM gives wins for good, and the customer's own words may
correct a guessed one."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from bot.config import Program, parse_config
from bot.core import Core
from bot.errors import ConfigError
from bot.phones import locale_for_number, to_e164
from flows.vocabulary import DEFAULT_LANGUAGES
from tests.conftest import Customer, open_case
from tests.support.fakes import FakeChannel


@pytest.mark.parametrize(
    ("phone", "locale"),
    [
        ("+52 55 1234 5678", "es-MX"),
        ("+34 612 345 678", "es-ES"),
        ("+33 6 12 34 56 78", "fr-FR"),
        ("+55 11 91234 5678", "pt-BR"),
        ("+1 212 555 0101", "en-US"),
        ("+1 514 555 0101", "en-CA"),  # Canada's first official language is English
        ("+32 470 12 34 56", None),  # Belgium: Dutch first, which keepposted does not speak
        ("+49 151 2345 6789", None),
    ],
)
def test_the_country_says_the_language(phone: str, locale: str | None) -> None:
    assert locale_for_number(to_e164(phone), DEFAULT_LANGUAGES) == locale


def test_a_number_abroad_gets_its_language_and_a_home_one_the_programs(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    mexico = open_case(client, auth, contact={"phone": "+52 55 1234 5678"})["contact"]
    assert (mexico["locale"], mexico["locale_inferred"]) == ("es-MX", True)
    home = open_case(client, auth, contact={"phone": "+1 212 555 0102"})["contact"]
    assert (home["locale"], home["locale_inferred"]) == (None, False)


def test_a_locale_the_crm_gives_wins(client: FlaskClient, auth: dict[str, str]) -> None:
    given = open_case(client, auth, contact={"phone": "+52 55 1234 5679", "locale": "en"})
    assert (given["contact"]["locale"], given["contact"]["locale_inferred"]) == ("en", False)


def test_the_customers_words_correct_a_guess_but_never_a_given_locale(
    core: Core, client: FlaskClient, auth: dict[str, str], channels: dict[str, FakeChannel]
) -> None:
    guessed = open_case(client, auth, contact={"phone": "+52 55 1234 5678"})
    given = open_case(client, auth, contact={"phone": "+52 55 1234 5670", "locale": "es"})
    Customer(core, channels, "+525512345678").says("what is the status please")
    Customer(core, channels, "+525512345670").says("what is the status please")
    assert _contact(client, auth, guessed["id"]) == ("en", True)
    assert _contact(client, auth, given["id"]) == ("es", False)


def _contact(client: FlaskClient, auth: dict[str, str], case_id: int) -> tuple[str, bool]:
    contact = client.get(f"/api/v1/cases/{case_id}", headers=auth).get_json()["contact"]
    return contact["locale"], contact["locale_inferred"]


def test_the_program_contact_may_be_given_per_locale() -> None:
    program = Program(contact={"en": "call 1-800-555-0199", "es": "llame al 1-800-555-0199"})
    assert program.contact_in("es-MX") == "llame al 1-800-555-0199"
    assert program.contact_in("fr") == "call 1-800-555-0199"  # the program's locale next
    assert program.contact_in(None) == "call 1-800-555-0199"
    assert Program(contact={"es": "llame"}).contact_in("fr") == "llame"  # the first given
    assert Program(contact="call us").for_locale("es")["contact"] == "call us"
    with pytest.raises(ConfigError, match=r"program\.contact"):
        parse_config({"program": {"contact": {}}})
    with pytest.raises(ConfigError, match="unknown locale"):
        parse_config({"program": {"contact": {"xx-99": "call"}}})


def test_help_names_the_contact_in_the_customers_language(
    core: Core, client: FlaskClient, auth: dict[str, str], channels: dict[str, FakeChannel]
) -> None:
    contact = {"en": "call 1-800-555-0199", "es": "llame al 1-800-555-0199"}
    core.config = core.config.model_copy(
        update={"program": core.config.program.model_copy(update={"contact": contact})}
    )
    open_case(client, auth, contact={"phone": "+52 55 1234 5678"})
    lucia = Customer(core, channels, "+525512345678")
    lucia.inbox()
    lucia.says("AYUDA")
    [help_text] = lucia.inbox()
    assert "Llame al 1-800-555-0199" in help_text and "call" not in help_text
