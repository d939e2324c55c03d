"""A case's whole life in the customer's language, over real HTTP: the app on an ephemeral port,
signed Twilio webhooks in, the real twilio client out to a fake Twilio. The contact is created
by the API with only a phone number: the number gives the language and the time zone, every
message is in that language at a decent local hour, dates are formatted for the locale, the
customer's words are stored verbatim, and nothing said is untrue when it is said."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.clock import FrozenClock
from bot.render import format_when
from bot.store.models import Message
from bot.worker import tick
from tests.conftest import LiveApp, Phone, auth_header
from tests.support.fake_twilio import FakeTwilio

# Words only an English message has: none may reach a Spanish or French customer.
ENGLISH = re.compile(r"\b(Case|Update on|Reply|Thanks|We expect|Next update|is closed)\b")


def open_by_phone(live: LiveApp, phone: str, **fields: Any) -> dict[str, Any]:
    body = {"subject": fields.pop("subject"), "priority": "P2", "contact": {"phone": phone}}
    response = live.client.post("/api/v1/cases", json=body | fields, headers=auth_header())
    assert response.status_code == 201, response.get_json()
    case: dict[str, Any] = response.get_json()
    return case


def act(live: LiveApp, case_id: int, action: str, **body: Any) -> None:
    response = live.client.post(
        f"/api/v1/cases/{case_id}/{action}", json=body, headers=auth_header()
    )
    assert response.status_code == 200, response.get_json()


def until_local(clock: FrozenClock, live: LiveApp, zone: str, hour: int, minute: int = 0) -> None:
    """Move the clock on to the next `hour:minute` in `zone`, letting the worker run each
    half hour on the way (as it would)."""
    local = clock.now().astimezone(ZoneInfo(zone))
    target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    while clock.now() < target.astimezone(UTC):
        clock.advance(min(timedelta(minutes=30), target.astimezone(UTC) - clock.now()))
        tick(live.core, "test")


def local_hours_of_sends(live: LiveApp, phone: str, zone: str) -> list[int]:
    with live.core.sessions() as session:
        sent = session.scalars(
            select(Message.at).where(Message.address == phone, Message.direction == "out")
        )
        return [at.astimezone(ZoneInfo(zone)).hour for at in sent]


def stored_words(live: LiveApp, phone: str) -> list[str]:
    with live.core.sessions() as session:
        return list(
            session.scalars(
                select(Message.body)
                .where(Message.address == phone, Message.direction == "in")
                .order_by(Message.id)
            )
        )


def test_a_mexican_customer_lives_the_whole_case_in_spanish(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    zone, phone = "America/Mexico_City", "+525512345678"
    eta = clock.now() + timedelta(hours=30)
    case = open_by_phone(live, "+52 55 1234 5678", subject="Sin internet", eta=eta.isoformat())
    contact = case["contact"]
    assert (contact["locale"], contact["locale_inferred"]) == ("es-MX", True)
    assert (contact["timezone"], contact["timezone_inferred"]) == (zone, True)
    lucia = Phone(live, fake_twilio, phone)

    clock.advance(timedelta(hours=2))  # 11:00 in Mexico City: the first update
    [update] = lucia.inbox()
    assert update.startswith("Novedades del caso #1 (Sin internet): nuestro equipo sigue")
    assert f"Prevemos resolverlo para el {format_when(eta, zone, 'es-MX')}." in update
    assert "mar" in format_when(eta, zone, "es-MX") or "mié" in format_when(eta, zone, "es-MX")

    [status] = lucia.texts("¿Cuándo van a arreglarlo?")
    assert status.startswith("Estamos trabajando en el caso #1 (Sin internet).")
    assert "Plazo previsto:" in status

    # Updates every 8 hours: the one due at 03:00 local waits for 08:00.
    until_local(clock, live, zone, 7, 59)
    night = lucia.inbox()
    assert len(night) == 1 and night[0].startswith("Novedades del caso #1")  # 19:00's
    until_local(clock, live, zone, 8, 1)
    [morning] = lucia.inbox()
    assert morning.startswith("Novedades del caso #1")

    # The ETA (15:00 the next day, local) passes: she is told it is late, never the old time.
    until_local(clock, live, zone, 15, 1)
    [late] = lucia.inbox()
    assert late.startswith("Caso #1: disculpe, está tardando más de lo que le indicamos.")
    [status] = lucia.texts("estado")
    assert "Está tardando más de lo que le dijimos" in status and "Plazo previsto" not in status

    act(live, case["id"], "resolve", resolution="Cambiamos la tarjeta de línea de su central.")
    [ask] = lucia.inbox()
    assert "Cambiamos la tarjeta de línea" in ask and "SI" in ask
    thanks = lucia.texts("si ya funciona, gracias")
    assert len(thanks) == 1 or len(thanks) == 2
    assert all(not ENGLISH.search(m) for m in thanks)
    lucia.texts("5")

    sent = [m.body for m in fake_twilio.messages if m.to == phone]
    assert sent and all(not ENGLISH.search(m) for m in sent), sent
    assert all(8 <= hour < 21 for hour in local_hours_of_sends(live, phone, zone))
    said = ["¿Cuándo van a arreglarlo?", "estado", "si ya funciona, gracias", "5"]
    assert stored_words(live, phone) == said
    record = live.client.get(f"/api/v1/cases/{case['id']}", headers=auth_header()).get_json()
    assert (record["status"], record["csat_score"]) == ("closed", 5)


def test_a_french_customer_who_never_answers_is_told_in_french(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    zone, phone = "Europe/Paris", "+33612345678"
    case = open_by_phone(live, "+33 6 12 34 56 78", subject="Box en panne")
    assert case["contact"]["locale"] == "fr-FR"
    claire = Phone(live, fake_twilio, phone)
    clock.advance(timedelta(hours=2))  # 18:00 in Paris
    [update] = claire.inbox()
    assert update.startswith("Votre dossier #1 (Box en panne) : notre équipe y travaille")
    act(live, case["id"], "resolve", resolution="Nous avons remplacé votre box.")
    [ask] = claire.inbox()
    assert "Nous avons remplacé votre box." in ask
    for _ in range(4 * 24):  # four days without an answer: a reminder, then the auto-close
        clock.advance(timedelta(hours=1))
        tick(live.core, "test")
    later = claire.inbox()
    assert len(later) == 2, later
    assert later[1].startswith("Le dossier #1 (Box en panne) est désormais clos, faute de réponse")
    assert later[1].endswith("répondez ROUVRIR sous 7 jours.")
    sent = [m.body for m in fake_twilio.messages if m.to == phone]
    assert all(not ENGLISH.search(m) for m in sent), sent
    assert all(8 <= hour < 21 for hour in local_hours_of_sends(live, phone, zone))
    [reopened] = claire.texts("ROUVRIR")
    assert not ENGLISH.search(reopened)
