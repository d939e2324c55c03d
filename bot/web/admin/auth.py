"""Who may see /admin: a login form that takes the operator's name and `ADMIN_TOKEN`, then a
signed session cookie (Flask's, keyed by `SECRET_KEY`). Every form carries a CSRF token
(Flask-WTF's), and every POST is checked before its view runs.

The session holds the name (so the audit trail says who viewed which notes) and a fingerprint of
the token it was opened with: changing `ADMIN_TOKEN` signs everybody out. Failed logins are
audited and counted in the database, so every web process refuses a guesser after a few tries.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from flask import current_app, request, session
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy import func, select
from wtforms import ValidationError

from bot.core import Core
from bot.engine import actions
from bot.errors import BadCsrfToken, NotConfigured, TooManyRequests
from bot.store.models import AuditEvent

SESSION_LIFETIME = timedelta(hours=8)
FAILED_LOGIN_WINDOW = timedelta(minutes=15)
FAILED_LOGINS_ALLOWED = 10  # per client address and window
NAME_MAX = 60


def core() -> Core:
    found: Core = current_app.extensions["keepposted"]
    return found


def require_configured(found: Core) -> str:
    """The admin token; /admin stays shut (503), naming what is missing, until both are set."""
    token, secret = found.settings.admin_token, found.settings.secret_key
    if not token or not secret:
        missing = " and ".join(
            name for name, value in (("ADMIN_TOKEN", token), ("SECRET_KEY", secret)) if not value
        )
        raise NotConfigured(
            f"/admin needs {missing} in the environment (ADMIN_TOKEN is what people sign in "
            "with; SECRET_KEY signs their session and every form's CSRF token)"
        )
    return token


def _fingerprint(token: str) -> str:
    return hashlib.sha256(b"keepposted-admin:" + token.encode()).hexdigest()[:16]


def signed_in_as() -> str | None:
    """The operator's name when the session is valid for the current ADMIN_TOKEN."""
    token = require_configured(core())
    name = session.get("admin_name")
    if not isinstance(name, str) or session.get("admin_key") != _fingerprint(token):
        return None
    return name


def actor() -> str:
    return f"admin:{signed_in_as() or 'unknown'}"


def check_csrf() -> None:
    """Every POST to /admin carries the session's CSRF token (in the form or a header)."""
    require_configured(core())  # the token is signed with SECRET_KEY: without it, say so
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
    try:
        validate_csrf(sent)
    except (ValidationError, CSRFError) as exc:
        raise BadCsrfToken(
            f"the form had expired or did not come from this site ({exc}); reload and try again"
        ) from None


def csrf_token() -> str:
    token: str = generate_csrf()
    return token


def log_in(name: str, token: str, now: datetime) -> str | None:
    """Open a session, or say what was wrong. Refuses a client after too many failures."""
    found = core()
    expected = require_configured(found)
    client = request.remote_addr or "unknown"
    with found.sessions.begin() as db:
        since = now - FAILED_LOGIN_WINDOW
        failures = db.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "admin_login_failed",
                AuditEvent.at >= since,
                AuditEvent.actor == f"client:{client}",
            )
        )
        if (failures or 0) >= FAILED_LOGINS_ALLOWED:
            raise TooManyRequests(
                "too many failed sign-ins from this address; wait 15 minutes",
                retry_after=int(FAILED_LOGIN_WINDOW.total_seconds()),
            )
        name = " ".join(name.split())[:NAME_MAX]
        if not hmac.compare_digest(token.encode(), expected.encode()):
            actions.audit(
                db,
                actor=f"client:{client}",
                action="admin_login_failed",
                case_id=None,
                at=now,
                name=name,
            )
            return "That token is not right."
        if not name:
            return "Give your name: the audit trail records who looked at what."
        actions.audit(db, actor=f"admin:{name}", action="admin_login", case_id=None, at=now)
    session.clear()
    session.permanent = True
    session["admin_name"] = name
    session["admin_key"] = _fingerprint(expected)
    return None


def log_out() -> None:
    session.clear()
