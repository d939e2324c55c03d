"""/admin: the ops view for supervisors, QA and client auditors (README, The ops view).

Sign-in first (bot/web/admin/auth.py); then the case lists, a case's whole record, notes search,
and the charts. Reading notes and exporting the log are audited; a note added or edited here is
the same note /case note writes. Pages are server-rendered and work without JavaScript except
the charts, which plotly.js draws from /admin/charts.json; plotly.js is served from the Python
package, never from a CDN.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, redirect, request, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from bot.domain import NoteKind
from bot.engine import actions
from bot.errors import InvalidInput, KeeppostedError, NotFound
from bot.ops.notes_search import search_notes
from bot.ops.report import build_report
from bot.resources import static_root
from bot.store.models import Case, Note
from bot.web.admin.auth import actor, check_csrf, core, csrf_token, log_in, log_out, signed_in_as
from bot.web.admin.view import VIEWS, CaseFilters, case_record, list_cases, notes_with_history
from bot.web.inputs import day_range, whole_number

admin_routes = Blueprint("admin", __name__)

STATIC = static_root("admin")
PLOTLY_JS = resources.files("plotly") / "package_data" / "plotly.min.js"
OPEN_WITHOUT_SIGN_IN = {"admin.login", "admin.static_file", "admin.plotly"}
DEFAULT_CHART_DAYS = 30
MAX_NOTE_CHARS = 5000
MAX_PAGE = 10_000
# Where a sign-in may return to: /admin or a path under it, in printable ASCII (no space, no
# CR or LF, which would end the Location header), with an optional query.
NEXT_TARGET = re.compile(r"/admin(?:[/?][\x21-\x7e]*)?")


def page(template: str, **context: Any) -> str:
    found = core()
    return found.templates.page(
        "admin",
        template,
        {
            "program": found.config.program.name,
            "operator": signed_in_as(),
            "csrf_token": csrf_token(),
            "views": VIEWS,
            **context,
        },
    )


@admin_routes.before_request
def sign_in_first() -> ResponseReturnValue | None:
    if request.method == "POST":
        check_csrf()
    if request.endpoint in OPEN_WITHOUT_SIGN_IN or signed_in_as() is not None:
        return None
    if request.method == "GET":
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    return redirect(url_for("admin.login"))


@admin_routes.after_request
def security_headers(response: Response) -> Response:
    # plotly.js sets inline styles as it draws, hence style-src 'unsafe-inline'; scripts only
    # ever come from this site.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    # Cache-Control: no-store comes from bot/app.py, for every /admin answer but static files.
    return response


@admin_routes.errorhandler(KeeppostedError)
def on_error(exc: KeeppostedError) -> tuple[str, int]:
    try:
        html = page("error", message=exc.message, status=exc.http_status)
    except KeeppostedError:  # not configured: the same page, with no session or form on it
        found = core()
        html = found.templates.page(
            "admin",
            "error",
            {
                "program": found.config.program.name,
                "operator": None,
                "csrf_token": "",
                "message": exc.message,
                "status": exc.http_status,
            },
        )
    return html, exc.http_status


# -- signing in --------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path on this site's /admin, so the login cannot bounce anyone elsewhere nor write
    a header of its own; anything else goes to the case list."""
    if (
        target
        and NEXT_TARGET.fullmatch(target)
        and "//" not in target
        and "\\" not in target
        # a browser resolves `..` (also written %2e%2e) before it follows the redirect
        and not {".", ".."} & set(unquote(target.partition("?")[0]).split("/"))
    ):
        return target
    return url_for("admin.cases")


@admin_routes.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return page("login", error=None, name="", next=target)
    name = request.form.get("name", "")
    problem = log_in(name, request.form.get("token", ""), core().clock.now())
    if problem:
        return page("login", error=problem, name=name, next=target), 401
    return redirect(target, code=303)


@admin_routes.post("/logout")
def logout() -> ResponseReturnValue:
    log_out()
    return redirect(url_for("admin.login"), code=303)


# -- cases -------------------------------------------------------------------------------


@admin_routes.get("/")
def home() -> ResponseReturnValue:
    return redirect(url_for("admin.cases"))


@admin_routes.get("/cases")
def cases() -> str:
    found = core()
    filters = CaseFilters.from_args(request.args.to_dict())
    view = request.args.get("view", "open")
    page_number = whole_number("page", 1, 1, MAX_PAGE)
    with found.readers() as session:
        listed = list_cases(session, found, view, filters, page_number, found.clock.now())
    return page("cases", listed=listed, filters=filters)


@admin_routes.get("/cases/<int:case_id>")
def case(case_id: int) -> str:
    found = core()
    with found.sessions.begin() as session:
        shown = _case(session, case_id)
        # Reading notes is audited, and the page below shows this very view in its trail.
        actions.audit(
            session,
            actor=actor(),
            action="notes_viewed",
            case_id=case_id,
            at=found.clock.now(),
            notes=session.scalar(select(func.count(Note.id)).where(Note.case_id == case_id)),
        )
        record = case_record(session, found, shown)
    return page("case", kinds=[k.value for k in NoteKind], **record)


def _case(session: Any, case_id: int) -> Case:
    found = session.get(Case, case_id, options=[joinedload(Case.contact)])
    if found is None:
        raise NotFound(f"case #{case_id} does not exist")
    assert isinstance(found, Case)
    return found


def _tags(text: str) -> list[str]:
    return [t.strip().lstrip("#")[:32] for t in text.replace(",", " ").split() if t.strip("#")]


def _note_text() -> str:
    text = request.form.get("text", "")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInput(f"a note holds at most {MAX_NOTE_CHARS} characters", field="text")
    return text


@admin_routes.post("/cases/<int:case_id>/notes")
def add_note(case_id: int) -> ResponseReturnValue:
    found = core()
    with found.sessions.begin() as session:
        actions.add_note(
            session,
            _case(session, case_id),
            kind=request.form.get("kind", "interaction"),
            text=_note_text(),
            tags=_tags(request.form.get("tags", "")),
            author=actor(),
            now=found.clock.now(),
        )
    return redirect(url_for("admin.case", case_id=case_id, _anchor="notes"), code=303)


@admin_routes.post("/notes/<int:note_id>")
def edit_note(note_id: int) -> ResponseReturnValue:
    found = core()
    with found.sessions.begin() as session:
        note = session.get(Note, note_id, with_for_update=True)
        if note is None:
            raise NotFound(f"note {note_id} does not exist")
        actions.edit_note(
            session,
            note,
            text=_note_text(),
            kind=request.form.get("kind") or None,
            tags=_tags(request.form.get("tags", "")),
            editor=actor(),
            now=found.clock.now(),
        )
        case_id = note.case_id
    return redirect(url_for("admin.case", case_id=case_id, _anchor=f"note-{note_id}"), code=303)


@admin_routes.get("/notes")
def notes() -> str:
    found = core()
    query = {k: request.args.get(k, "").strip()[:200] for k in ("q", "tag", "kind")}
    results: list[dict[str, Any]] = []
    searched = any(query.values())
    if searched:
        with found.sessions.begin() as session:
            hits = search_notes(
                session,
                text=query["q"] or None,
                tag=query["tag"] or None,
                kind=query["kind"] or None,
                limit=100,
            )
            results = notes_with_history(session, [hit.note for hit in hits], found.config.timezone)
            for note, hit in zip(results, hits, strict=True):  # best match first
                note["snippet"] = hit.snippet
            now = found.clock.now()
            for case_id in sorted({note["case_id"] for note in results}):
                actions.audit(
                    session,
                    actor=actor(),
                    action="notes_viewed",
                    case_id=case_id,
                    at=now,
                    search=query,
                )
    return page(
        "notes",
        query=query,
        results=results,
        searched=searched,
        kinds=[k.value for k in NoteKind],
    )


@admin_routes.post("/cases/<int:case_id>/log-export")
def export_case_log(case_id: int) -> Response:
    from bot.ledger.export import ExportFilter, export_log

    found = core()
    redact = request.form.get("redact") == "1"
    out = io.StringIO()
    with found.sessions.begin() as session:
        _case(session, case_id)
        export_log(
            session,
            out,
            fmt="jsonl",
            filters=ExportFilter(case_id=case_id),
            redact=redact,
            actor=actor(),
            now=found.clock.now(),
        )
    name = f"case-{case_id}-log{'-redacted' if redact else ''}.jsonl"
    return Response(
        out.getvalue(),
        mimetype="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- charts ------------------------------------------------------------------------------


def _period() -> tuple[date, date]:
    """The days the charts cover, in the ops time zone: ?since=&until=, default the last 30."""
    found = core()
    today = found.clock.now().astimezone(ZoneInfo(found.config.timezone)).date()
    return day_range(today - timedelta(days=DEFAULT_CHART_DAYS - 1), today)


@admin_routes.get("/charts")
def charts() -> str:
    since, until = _period()
    return page("charts", since=since.isoformat(), until=until.isoformat())


@admin_routes.get("/charts.json")
def charts_data() -> Response:
    found = core()
    since, until = _period()
    zone = ZoneInfo(found.config.timezone)
    with found.readers() as session:
        report = build_report(
            session,
            since=datetime.combine(since, time(), zone).astimezone(UTC),
            until=datetime.combine(until + timedelta(days=1), time(), zone).astimezone(UTC),
            now=found.clock.now(),
            zone=found.config.timezone,
            on_time_within=found.config.reports.on_time_within,
        )
    return jsonify(report.as_dict())


@admin_routes.get("/static/plotly.min.js")
def plotly() -> Response:
    response = Response(PLOTLY_JS.read_bytes(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@admin_routes.get("/static/<path:name>")
def static_file(name: str) -> Response:
    return send_from_directory(STATIC, name, max_age=3600)
