"""Notes never reach a customer. A case full of notes (every kind, tagged, edited) is rendered
through every customer-facing template on every channel and every page the customer can open,
and played through the flows; no note's text, old text or tag shows anywhere. The admin page and
the API, which are for the team, do show them: the same search would catch a leak."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from bot.app import create_app
from bot.clock import FrozenClock
from bot.core import Core
from bot.domain import NoteKind, OutboxKind
from bot.engine import actions
from bot.engine.messages import customer_context
from bot.ops.config_check import _sample_page, sample_context, variants
from bot.render import customer_templates
from bot.resources import templates_root
from bot.store.models import Case, Outbox
from bot.web.admin.view import case_record
from tests.conftest import Customer, auth_header, later, open_case
from tests.support.fakes import FakeChannel

SECRETS = [f"N0TE{n}SECRET" for n in range(len(NoteKind))]
OLD_TEXT = "0LDN0TETEXT"
TAG = "t4gsecret"


def leaked(text: str) -> list[str]:
    return [marker for marker in [*SECRETS, OLD_TEXT, TAG] if marker in text]


def case_full_of_notes(core: Core, client: FlaskClient) -> int:
    case_id = int(open_case(client, auth_header(), priority="P1", category="outage")["id"])
    now = core.clock.now()
    with core.sessions.begin() as session:
        case = actions.get_case(session, case_id)
        for secret, kind in zip(SECRETS, NoteKind, strict=True):
            actions.add_note(
                session, case, kind=kind.value, text=f"{secret} about {kind}", tags=[TAG],
                author="agent:U0AGENT", now=now,
            )  # fmt: skip
        note = actions.add_note(
            session, case, kind="sentiment", text=OLD_TEXT, author="agent:U0AGENT", now=now
        )
        actions.edit_note(session, note, text=SECRETS[0], editor="agent:U0AGENT", now=now)
    return case_id


def customer_template_names() -> dict[str, list[str]]:
    """Every text a customer can be sent, per channel: SMS and web chat wording (all of their
    folders) and the Slack layouts sent to customers."""
    names: dict[str, list[str]] = {}
    for channel in ("sms", "webchat"):
        files = (templates_root() / channel).glob("*.txt.j2")
        names[channel] = sorted(path.name.removesuffix(".txt.j2") for path in files)
    return names


def test_no_customer_template_or_page_shows_a_note(
    chat_core: Core, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> None:
    client = create_app(core=chat_core).test_client()
    case_id = case_full_of_notes(chat_core, client)
    rendered: list[str] = []
    with chat_core.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        context = sample_context(chat_core.config) | customer_context(case, case.contact, chat_core)
        templates = chat_core.templates
        for channel, names in customer_template_names().items():
            for name in names:
                for _, data in variants(name, context):
                    rendered.append(templates.render(channel, name, data))
        for name in customer_templates(chat_core.config):
            blocks = templates.render_blocks("slack", name, context | {"text": "Sample."})
            rendered.append(repr(blocks))
        rendered.append(templates.page("webchat", "page", _sample_page(chat_core.config, context)))
        links = chat_core.links
        assert links is not None
        link = links.url(case)
    assert len(rendered) > 40
    assert [leaked(text) for text in rendered if leaked(text)] == []

    # The pages the customer opens, with the real case behind them.
    token = link.rsplit("/c/", 1)[1]
    page = client.get(f"/c/{token}")
    assert page.status_code == 200 and "Case #" in page.text
    for response in (
        page,
        client.get(f"/c/{token}/messages"),
        client.get(f"/c/{token}?embed=1"),
        client.get("/c/not-a-token"),
        client.get("/widget.js"),
    ):
        assert leaked(response.get_data(as_text=True)) == []

    # Everything the flows send the customer while the case goes its whole way.
    customer = Customer(chat_core, channels, "+12125550101")
    later(clock, chat_core, hours=1)
    auth = auth_header()
    client.post(f"/api/v1/cases/{case_id}/updates", json={"text": "Engineer on site."},
                headers=auth)  # fmt: skip
    client.post(f"/api/v1/cases/{case_id}/wait", json={"reason": "investigation"}, headers=auth)
    customer.says("STATUS")
    customer.says("help")
    client.post(f"/api/v1/cases/{case_id}/resolve", json={"resolution": "Fixed."}, headers=auth)
    customer.says("maybe")
    customer.says("YES")
    customer.says("5")
    with chat_core.sessions() as session:
        to_customers = session.scalars(select(Outbox).where(Outbox.kind != OutboxKind.ALERT))
        bodies = [f"{row.body} {row.blocks}" for row in to_customers]
    assert len(bodies) >= 7
    assert [leaked(body) for body in bodies if leaked(body)] == []
    assert leaked(client.get(f"/c/{token}/messages").get_data(as_text=True)) == []


def test_the_team_does_see_them(core: Core, client: FlaskClient) -> None:
    """The control: the same search finds every marker where notes belong, so a leak would be
    found too."""
    case_id = case_full_of_notes(core, client)
    found = client.get(f"/api/v1/notes?case={case_id}&limit=100", headers=auth_header())
    assert found.status_code == 200
    assert set(leaked(found.get_data(as_text=True))) == {*SECRETS, TAG}
    with core.sessions() as session:
        record = case_record(session, core, actions.get_case(session, case_id))
    assert set(leaked(repr(record["notes"]))) == {*SECRETS, OLD_TEXT, TAG}  # with the history
