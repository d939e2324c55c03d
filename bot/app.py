"""The Flask app factory. Nothing starts at import time: no scheduler, no schema, no network."""

from __future__ import annotations

import functools
import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from bot.config import Config, Settings, load_config
from bot.core import Core, create_core
from bot.errors import KeeppostedError, TooManyRequests, Unauthorized
from bot.ops.config_check import render_problems
from bot.ops.readiness import Readiness, head_revision, schema_problem
from bot.process_logging import configure_logging_if_unset
from bot.resources import static_root
from bot.store.db import unreachable
from bot.web.admin.auth import SESSION_LIFETIME
from bot.web.admin.routes import admin_routes
from bot.web.api import api
from bot.web.inputs import RecordIdConverter
from bot.web.metrics import register_metrics
from bot.web.slack import register_slack, slack_routes
from bot.web.sms import sms_routes
from bot.web.webchat import webchat_routes

MAX_BODY_BYTES = 256 * 1024
# Browsers keep to https for a year, subdomains included, once they have seen this over https.
HSTS = "max-age=31536000; includeSubDomains"
NEVER_CACHED = ("/api/v1", "/admin")
CACHEABLE = ("/admin/static",)  # the ops view's scripts and styles
logger = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "field": field}})
    response.status_code = status
    return response


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == prefix or path.startswith(f"{prefix}/") for prefix in prefixes)


def _never_cached(path: str) -> bool:
    """The API's answers and the ops view's pages carry phone numbers, customers' words and chat
    links: no browser or proxy may keep them. The ops view's static files may be cached."""
    return _under(path, NEVER_CACHED) and not _under(path, CACHEABLE)


def create_app(
    config: Config | None = None, *, settings: Settings | None = None, core: Core | None = None
) -> Flask:
    """Build the web app: `gunicorn 'bot.app:create_app()'` or `keepposted serve`."""
    configure_logging_if_unset()  # plain gunicorn: JSON and masked (bot/process_logging.py)
    core = core or create_core(config or load_config(), settings)
    # /static/... serves the packaged bot/web/static (the web chat's script and styles).
    app = Flask(__name__, static_folder=static_root())
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["SECRET_KEY"] = core.settings.secret_key
    app.extensions["keepposted"] = core
    https = core.config.public_url.lower().startswith("https://")
    # Before any route is added: every `<int:...>` id is then one a database row can have.
    app.url_map.converters["int"] = RecordIdConverter
    register_metrics(app, core)
    app.register_blueprint(api, url_prefix="/api/v1")
    app.register_blueprint(sms_routes)
    app.register_blueprint(slack_routes)
    register_slack(app, core)
    app.register_blueprint(webchat_routes)
    app.register_blueprint(admin_routes, url_prefix="/admin")
    app.config.update(
        SESSION_COOKIE_NAME="keepposted_admin",  # only /admin signs anyone in
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        WTF_CSRF_TIME_LIMIT=int(SESSION_LIFETIME.total_seconds()),
    )

    @app.after_request
    def common_headers(response: Response) -> Response:
        if _never_cached(request.path):
            response.headers["Cache-Control"] = "no-store"
        if https:
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    @functools.cache
    def template_state() -> tuple[str, ...]:
        """Templates cannot change under a running process: rendered once, on the first probe."""
        return tuple(render_problems(core.config, core.templates))

    @app.get("/healthz")
    def healthz() -> Response | tuple[Response, int]:
        """Ready to serve: the database answers at the newest migration and every template
        the config uses renders. 503 with the reason otherwise."""
        state = Readiness(
            database=schema_problem(core.engine, head_revision()) or "ok",
            templates=list(template_state()),
        )
        body = {"ok": state.ok, "database": state.database, "templates": state.templates or "ok"}
        if not state.ok:
            logger.warning("health check: not ready (%s)", body)
            return jsonify(body), 503
        return jsonify(body)

    @app.errorhandler(KeeppostedError)
    def on_keepposted_error(exc: KeeppostedError) -> Response:
        response = error_response(exc.http_status, exc.code, exc.message, exc.field)
        if isinstance(exc, Unauthorized) and not request.path.startswith("/slack/"):
            # The API and /metrics take a bearer token; Slack's 401 is about its signature.
            response.headers["WWW-Authenticate"] = 'Bearer realm="keepposted"'
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def on_http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        for name, value in exc.get_headers():  # e.g. Allow on a 405
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def on_unexpected(exc: Exception) -> Response:
        if unreachable(exc):
            # A database restart or failover: nothing was stored, so the caller should retry
            # (Twilio does with `#rc=3&rp=all` on the webhook URL; README, Running at scale).
            logger.warning("database unreachable: answered 503 (%s)", exc.__class__.__name__)
            response = error_response(503, "unavailable", "the database is unavailable; retry")
            response.headers["Retry-After"] = "5"
            return response
        logger.exception("unhandled error")  # the details go to the log, never to the client
        return error_response(500, "internal_error", "something went wrong on our side")

    return app
