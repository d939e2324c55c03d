"""/admin through Flask's test client: sign-in with ADMIN_TOKEN, the session cookie and CSRF,
the case lists and their filters, the case page (timeline, notes and their history, summary,
log with its verification state, audit trail), notes search and log export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Config, Settings
from bot.core import Core, create_core
from bot.store.models import AuditEvent, LogEntry
from channels.registry import ChannelRegistry
from tests.conftest import API_TOKEN, SECRET_KEY, Customer, later, open_case, resolved_case
from tests.support.fakes import FakeChannel

ADMIN_TOKEN = "admin-token-for-tests"
MARIA = "+12125550101"


@pytest.fixture
def admin_core(
    config: Config, database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Iterator[Core]:
    settings = Settings(
        database_url=database_url,
        api_token=API_TOKEN,
        secret_key=SECRET_KEY,
        admin_token=ADMIN_TOKEN,
    )
    built = create_core(config, settings, clock=clock, channels=ChannelRegistry(dict(channels)))
    yield built
    built.engine.dispose()


@pytest.fixture
def web(admin_core: Core) -> FlaskClient:
    return create_app(core=admin_core).test_client()


@pytest.fixture
def api_auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_TOKEN}"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(web: FlaskClient, name: str = "Quinn QA", token: str = ADMIN_TOKEN) -> FlaskClient:
    form = web.get("/admin/login")
    response = web.post(
        "/admin/login",
        data={"name": name, "token": token, "csrf_token": csrf_of(form.text), "next": ""},
    )
    assert response.status_code == 303, response.text
    return web


def audit_actions(core: Core, case_id: int | None = None) -> list[tuple[str, str]]:
    with core.sessions() as session:
        query = select(AuditEvent.actor, AuditEvent.action).order_by(AuditEvent.id)
        if case_id is not None:
            query = query.where(AuditEvent.case_id == case_id)
        return [(actor, action) for actor, action in session.execute(query)]


# -- signing in --------------------------------------------------------------------------


def test_every_admin_page_asks_to_sign_in_first(web: FlaskClient) -> None:
    for path in ("/admin/cases", "/admin/cases/1", "/admin/notes", "/admin/charts"):
        response = web.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/admin/login?next=")
    assert web.get("/admin/charts.json").status_code == 302


def test_signing_in_with_the_token_opens_a_session_and_returns_to_the_page(
    web: FlaskClient, admin_core: Core
) -> None:
    form = web.get("/admin/login?next=/admin/charts")
    assert 'name="token"' in form.text and 'type="password"' in form.text
    response = web.post(
        "/admin/login",
        data={"name": "Quinn QA", "token": ADMIN_TOKEN, "csrf_token": csrf_of(form.text),
              "next": "/admin/charts"},
    )  # fmt: skip
    assert response.status_code == 303 and response.headers["Location"] == "/admin/charts"
    cookie = response.headers["Set-Cookie"]
    assert "keepposted_admin=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Signed in as <strong>Quinn QA</strong>" in web.get("/admin/cases").text
    assert ("admin:Quinn QA", "admin_login") in audit_actions(admin_core)


def test_a_wrong_token_is_refused_and_audited(web: FlaskClient, admin_core: Core) -> None:
    form = web.get("/admin/login")
    response = web.post(
        "/admin/login",
        data={"name": "Mallory", "token": "guess", "csrf_token": csrf_of(form.text)},
    )
    assert response.status_code == 401 and "That token is not right." in response.text
    assert web.get("/admin/cases").status_code == 302
    assert [a for _, a in audit_actions(admin_core)] == ["admin_login_failed"]


def test_a_guesser_is_stopped_after_ten_tries(web: FlaskClient) -> None:
    token = csrf_of(web.get("/admin/login").text)
    codes = [
        web.post(
            "/admin/login", data={"name": "x", "token": f"guess{n}", "csrf_token": token}
        ).status_code
        for n in range(11)
    ]
    assert codes == [401] * 10 + [429]
    right = web.post("/admin/login", data={"name": "x", "token": ADMIN_TOKEN, "csrf_token": token})
    assert right.status_code == 429  # even the right token waits out the window


def test_login_needs_the_forms_csrf_token(web: FlaskClient) -> None:
    web.get("/admin/login")
    response = web.post("/admin/login", data={"name": "Quinn", "token": ADMIN_TOKEN})
    assert response.status_code == 400 and "did not come from this site" in response.text
    assert web.get("/admin/cases").status_code == 302


def test_a_post_without_the_csrf_token_changes_nothing(
    web: FlaskClient, admin_core: Core, api_auth: dict[str, str]
) -> None:
    case = open_case(admin_core_client(admin_core), api_auth)
    sign_in(web)
    forged = web.post(
        f"/admin/cases/{case['id']}/notes", data={"kind": "supervisor", "text": "forged"}
    )
    assert forged.status_code == 400
    other_session = sign_in(create_app(core=admin_core).test_client(), "Other")
    stolen = csrf_of(other_session.get("/admin/cases").text)
    mixed = web.post(
        f"/admin/cases/{case['id']}/notes",
        data={"kind": "supervisor", "text": "forged", "csrf_token": stolen + "x"},
    )
    assert mixed.status_code == 400
    assert "forged" not in web.get(f"/admin/cases/{case['id']}").text


def admin_core_client(core: Core) -> FlaskClient:
    return create_app(core=core).test_client()


def test_changing_admin_token_signs_everybody_out(
    web: FlaskClient, admin_core: Core, database_url: str, clock: FrozenClock, config: Config
) -> None:
    sign_in(web)
    cookie = web.get_cookie("keepposted_admin")
    assert cookie is not None
    rotated = create_core(
        config,
        Settings(database_url=database_url, secret_key=SECRET_KEY, admin_token="new-token"),
        clock=clock,
    )
    try:
        other = create_app(core=rotated).test_client()
        other.set_cookie("keepposted_admin", cookie.value)
        assert other.get("/admin/cases").status_code == 302
    finally:
        rotated.engine.dispose()


def test_without_admin_token_admin_is_shut(client: FlaskClient) -> None:
    response = client.get("/admin/login")
    assert response.status_code == 503 and "ADMIN_TOKEN" in response.text


def test_signing_out_ends_the_session(web: FlaskClient) -> None:
    sign_in(web)
    token = csrf_of(web.get("/admin/cases").text)
    assert web.post("/admin/logout", data={"csrf_token": token}).status_code == 303
    assert web.get("/admin/cases").status_code == 302


def test_next_never_leaves_the_admin(web: FlaskClient) -> None:
    for target in ("https://evil.example/", "//evil.example/admin", "/admin/../x\\y", "/api"):
        form = web.get("/admin/login")  # a sign-in starts a new session, with a new token
        response = web.post(
            "/admin/login",
            data={"name": "Q", "token": ADMIN_TOKEN, "csrf_token": csrf_of(form.text),
                  "next": target},
        )  # fmt: skip
        assert response.headers["Location"] == "/admin/cases", target


def test_pages_are_not_cached_and_allow_no_foreign_script(web: FlaskClient) -> None:
    sign_in(web)
    response = web.get("/admin/cases")
    assert response.headers["Cache-Control"] == "no-store"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy


# -- the lists ---------------------------------------------------------------------------


def test_lists_hold_open_waiting_due_soon_awaiting_and_reopened_cases(
    web: FlaskClient,
    admin_core: Core,
    clock: FrozenClock,
    api_auth: dict[str, str],
    channels: dict[str, FakeChannel],
) -> None:
    api = admin_core_client(admin_core)
    outage = open_case(api, api_auth, subject="Fibre cut", priority="P1", category="outage")
    slow = open_case(api, api_auth, subject="Refund late", priority="P4")
    waiting = open_case(api, api_auth, subject="Card blocked", priority="P2")
    api.post(f"/api/v1/cases/{waiting['id']}/wait", json={"reason": "third_party"},
             headers=api_auth)  # fmt: skip
    awaiting = resolved_case(api, api_auth, subject="Router fixed",
                             contact={"name": "Sam", "phone": "+16465550142"})  # fmt: skip
    reopened = resolved_case(api, api_auth, subject="Bill wrong",
                             contact={"name": "Dev", "phone": "+442079460018"})  # fmt: skip
    later(clock, admin_core, minutes=1)
    Customer(admin_core, channels, "+442079460018").says("REOPEN still wrong")
    sign_in(web)

    def listed(view: str, **filters: str) -> set[str]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        html = web.get(f"/admin/cases?view={view}&{query}").text
        return set(re.findall(r'<a href="/admin/cases/\d+">#(\d+)</a>', html))

    assert listed("open") == {str(outage["id"]), str(slow["id"]), str(reopened)}
    assert listed("waiting") == {str(waiting["id"])}
    assert listed("awaiting") == {str(awaiting)}
    assert listed("reopened") == {str(reopened)}
    assert listed("due_soon") == {str(outage["id"])}  # first update 15 minutes after opening
    assert listed("open", priority="P1") == {str(outage["id"])}
    assert listed("open", category="outage") == {str(outage["id"])}
    assert listed("open", text="refund") == {str(slow["id"])}
    assert listed("open", text=f"%23{slow['id']}") == {str(slow["id"])}
    assert listed("open", text="Dev") == {str(reopened)}
    assert listed("open", text="<script>") == set()
    tabs = web.get("/admin/cases?view=open").text
    assert re.search(r'Reopened <span class="count">1</span>', tabs)


# -- the case page -----------------------------------------------------------------------


def test_the_case_page_shows_timeline_notes_summary_log_and_audit(
    web: FlaskClient,
    admin_core: Core,
    clock: FrozenClock,
    api_auth: dict[str, str],
    channels: dict[str, FakeChannel],
) -> None:
    api = admin_core_client(admin_core)
    case_id = resolved_case(api, api_auth, subject="Router <b>reboots</b>")
    api.post(f"/api/v1/cases/{case_id}/notes",
             json={"kind": "technical", "text": "Swapped the PSU", "tags": ["hardware"]},
             headers=api_auth)  # fmt: skip
    later(clock, admin_core, minutes=5)
    Customer(admin_core, channels, MARIA).says("yes it works now, thanks!")
    sign_in(web)
    html = web.get(f"/admin/cases/{case_id}").text
    assert "Router &lt;b&gt;reboots&lt;/b&gt;" in html  # escaped, never markup
    assert "yes it works now, thanks!" in html and "sentiment +" in html
    assert "Swapped the PSU" in html and "#hardware" in html and ">technical<" in html
    assert "Maria Gomez got in touch on" in html  # the summary
    assert 'id="log-state">verified:' in html and "confirmation_requested" in html
    assert "notes viewed" in html  # this very view is in the audit trail
    assert ("admin:Quinn QA", "notes_viewed") in audit_actions(admin_core, case_id)


def test_the_case_page_says_when_the_log_was_altered(
    web: FlaskClient, admin_core: Core, api_auth: dict[str, str]
) -> None:
    case_id = resolved_case(admin_core_client(admin_core), api_auth)
    with admin_core.sessions.begin() as session:
        session.execute(
            update(LogEntry)
            .where(LogEntry.case_id == case_id, LogEntry.event == "resolution_proposed")
            .values(actor="agent:UFORGED")
        )
    sign_in(web)
    html = web.get(f"/admin/cases/{case_id}").text
    assert 'id="log-state">ALTERED' in html and "the entry was edited" in html


def test_notes_added_and_edited_here_keep_their_history_and_are_audited(
    web: FlaskClient, admin_core: Core, clock: FrozenClock, api_auth: dict[str, str]
) -> None:
    case_id = open_case(admin_core_client(admin_core), api_auth)["id"]
    sign_in(web)
    page = web.get(f"/admin/cases/{case_id}")
    added = web.post(
        f"/admin/cases/{case_id}/notes",
        data={"kind": "escalation", "tags": "vip, billing", "text": "Called twice today",
              "csrf_token": csrf_of(page.text)},
    )  # fmt: skip
    assert added.status_code == 303
    page = web.get(f"/admin/cases/{case_id}")
    note_id = re.search(r'id="note-(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    clock.advance(timedelta(minutes=3))
    edited = web.post(
        f"/admin/notes/{note_id}",
        data={"kind": "supervisor", "tags": "vip", "text": "Called three times today",
              "csrf_token": csrf_of(page.text)},
    )  # fmt: skip
    assert edited.status_code == 303
    html = web.get(f"/admin/cases/{case_id}").text
    assert "Called three times today" in html and "Edit history (1)" in html
    assert "“Called twice today”" in html and "replaced by admin:Quinn QA" in html
    actions = [a for _, a in audit_actions(admin_core, case_id)]
    assert actions.count("note_added") == 1 and actions.count("note_edited") == 1
    empty = web.post(
        f"/admin/cases/{case_id}/notes",
        data={"kind": "escalation", "text": "  ", "csrf_token": csrf_of(html)},
    )
    assert empty.status_code == 422 and "the note has no text" in empty.text
    bad_kind = web.post(
        f"/admin/cases/{case_id}/notes",
        data={"kind": "gossip", "text": "x", "csrf_token": csrf_of(html)},
    )
    assert bad_kind.status_code == 422 and "note kind must be one of" in bad_kind.text


def test_a_missing_case_is_a_404_page(web: FlaskClient) -> None:
    sign_in(web)
    response = web.get("/admin/cases/999999")
    assert response.status_code == 404 and "case #999999 does not exist" in response.text


def test_notes_search_finds_by_words_tag_and_kind_and_audits_the_cases_shown(
    web: FlaskClient, admin_core: Core, api_auth: dict[str, str]
) -> None:
    api = admin_core_client(admin_core)
    first = open_case(api, api_auth)["id"]
    second = open_case(api, api_auth, contact={"name": "Sam", "phone": "+16465550142"})["id"]
    for case_id, kind, text, tags in [
        (first, "technical", "Replaced the modem power supply", ["hardware"]),
        (second, "escalation", "Refund escalated to billing team", ["billing", "vip"]),
    ]:
        api.post(f"/api/v1/cases/{case_id}/notes",
                 json={"kind": kind, "text": text, "tags": tags}, headers=api_auth)  # fmt: skip
    sign_in(web)
    assert "Replaced the modem" in web.get("/admin/notes?q=modem").text
    by_tag = web.get("/admin/notes?tag=vip").text
    assert "Refund escalated" in by_tag and "Replaced the modem" not in by_tag
    by_kind = web.get("/admin/notes?kind=technical").text
    assert "Replaced the modem" in by_kind and "Refund escalated" not in by_kind
    assert "No note matches." in web.get('/admin/notes?q="unbalanced (OR*').text
    assert ("admin:Quinn QA", "notes_viewed") in audit_actions(admin_core, second)


def test_the_case_log_exports_plain_or_redacted_and_each_export_is_audited(
    web: FlaskClient,
    admin_core: Core,
    api_auth: dict[str, str],
    channels: dict[str, FakeChannel],
) -> None:
    case_id = resolved_case(admin_core_client(admin_core), api_auth)
    Customer(admin_core, channels, MARIA).says("No! Maria Gomez here, call +12125550101")
    sign_in(web)
    token = csrf_of(web.get(f"/admin/cases/{case_id}").text)
    plain = web.post(
        f"/admin/cases/{case_id}/log-export", data={"redact": "0", "csrf_token": token}
    )
    assert plain.status_code == 200
    assert f'filename="case-{case_id}-log.jsonl"' in plain.headers["Content-Disposition"]
    lines = [json.loads(line) for line in plain.text.splitlines()]
    assert any("hash" in line for line in lines)
    redacted = web.post(
        f"/admin/cases/{case_id}/log-export", data={"redact": "1", "csrf_token": token}
    )
    assert "Maria" not in redacted.text and "5550101" not in redacted.text
    assert [a for _, a in audit_actions(admin_core, case_id)].count("log_exported") == 2
    assert web.post(f"/admin/cases/{case_id}/log-export").status_code == 400  # no CSRF token


# -- the charts --------------------------------------------------------------------------


def test_the_chart_page_loads_plotly_from_keepposted_itself(web: FlaskClient) -> None:
    sign_in(web)
    html = web.get("/admin/charts").text
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts == ["/admin/static/plotly.min.js", "/admin/static/charts.js"]
    library = web.get("/admin/static/plotly.min.js")
    assert library.status_code == 200 and len(library.data) > 1_000_000
    assert b"plotly.js" in library.data[:2000]


def test_chart_data_comes_from_the_database(
    web: FlaskClient,
    admin_core: Core,
    clock: FrozenClock,
    api_auth: dict[str, str],
    channels: dict[str, FakeChannel],
) -> None:
    api = admin_core_client(admin_core)
    resolved_case(api, api_auth)
    later(clock, admin_core, minutes=5)
    Customer(admin_core, channels, MARIA).says("YES")
    sign_in(web)
    data = web.get("/admin/charts.json?since=2026-11-20&until=2026-11-23").get_json()
    assert [day["date"] for day in data["daily"]] == [
        "2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23",
    ]  # fmt: skip
    assert data["daily"][-1]["confirmed"] == 1
    assert data["totals"]["confirmation_rate"] == 1.0
    bad = web.get("/admin/charts.json?since=yesterday")
    assert bad.status_code == 422 and "since must be a date" in bad.text
