"""`GET /metrics` for Prometheus: what the database says, and how fast this process answers.

Two kinds of figures, from two sources:

- **From the database, at scrape time** (`DatabaseCollector`): messages by channel, direction
  and status, cases by status, the due backlog and the outbox (`bot/ops/backlog.py`, what
  `keepposted status` prints) and what waits in it per priority class, failed sends. Every web
  process reads the same rows, so any of them gives the same truth; Prometheus needs to scrape
  only one. When the database cannot be read, the scrape still answers, with
  `keepposted_database_up 0`.
- **In-process** (`RequestMetrics`): webhook latency and HTTP responses by route. The route
  label is the URL rule (`/c/<token>/messages`), never the path, which holds signed tokens;
  the method label is a known method or `other`. No request can add a series of its own.

gunicorn runs several worker processes and each keeps its own in-process figures. For one
scrape to sum them, the operator sets `PROMETHEUS_MULTIPROC_DIR` to an empty directory that
each worker can write, in the environment gunicorn starts with (the variable must be there
before the first metric is made) and empties it whenever the server starts (a tmpfs, or
`rm -rf "$PROMETHEUS_MULTIPROC_DIR"/*` in the start script); /metrics then answers with
prometheus_client's `MultiProcessCollector`. No `child_exit` hook is needed: there is no
in-process gauge whose files would outlive a dead worker.

Set `METRICS_TOKEN` to require `Authorization: Bearer <METRICS_TOKEN>` (Prometheus'
`authorization` scrape setting); without it /metrics is open, for a scraper on the private
network.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterable, Iterator
from datetime import datetime

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import Core
from bot.domain import OutboxStatus
from bot.errors import Unauthorized
from bot.ops.backlog import measure
from bot.outbox.priority import Urgency
from bot.store.db import unreachable
from bot.store.models import Case, Message, Outbox

logger = logging.getLogger(__name__)

# The routes providers and clients call: Twilio, Slack, the web chat page, the REST API.
WEBHOOK_RULES = frozenset({"/sms/inbound", "/sms/status", "/slack/events"})
API_PREFIX = "/api/v1/"
WEBCHAT_POST = ("POST", "/c/<token>/messages")
# Slack wants an answer within 3 s and Twilio gives up after 15 s: buckets either side of both.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0)
UNMATCHED = "<unmatched>"  # a 404 or 405 has no rule; the path is not a label
# Any token is a valid HTTP method, so a client could add a series per made-up one: the
# methods of RFC 9110 and PATCH are labelled as themselves, everything else as OTHER_METHOD.
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
OTHER_METHOD = "other"


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else OTHER_METHOD


def is_webhook(method: str, rule: str) -> bool:
    return rule in WEBHOOK_RULES or rule.startswith(API_PREFIX) or (method, rule) == WEBCHAT_POST


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class DatabaseCollector:
    """Reads the figures from the database on every scrape, with a read-only session."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def describe(self) -> Iterable[Metric]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        families: list[Metric] = []
        up = False
        try:
            with self.core.readers() as session:
                families = list(self._read(session, self.core.clock.now()))
            up = True
        except Exception as exc:  # the scrape still answers, with the in-process figures
            if unreachable(exc):
                logger.warning("metrics: database unreachable (%s)", exc.__class__.__name__)
            else:
                logger.exception("metrics: could not read the database")
            families = []
        yield _gauge(
            "keepposted_database_up",
            "1 when this scrape could read the database, 0 when it could not",
            1 if up else 0,
        )
        yield _gauge(
            "keepposted_database_scrape_seconds",
            "How long this scrape's database queries took",
            time.perf_counter() - started,
        )
        yield from families

    def _read(self, session: Session, now: datetime) -> Iterator[Metric]:
        messages = GaugeMetricFamily(
            "keepposted_messages",
            "Stored messages by channel, direction (in, out) and delivery status",
            labels=["channel", "direction", "status"],
        )
        for channel, direction, status, count in session.execute(
            select(Message.channel, Message.direction, Message.status, func.count()).group_by(
                Message.channel, Message.direction, Message.status
            )
        ):
            messages.add_metric([channel, str(direction), str(status)], count)
        yield messages

        cases = GaugeMetricFamily("keepposted_cases", "Cases by status", labels=["status"])
        for case_status, count in session.execute(
            select(Case.status, func.count()).group_by(Case.status)
        ):
            cases.add_metric([str(case_status)], count)
        yield cases

        failed = CounterMetricFamily(
            "keepposted_outbox_failed",
            "Outbound messages given up on (retries spent or refused), by channel and kind",
            labels=["channel", "kind"],
        )
        for channel, kind, count in session.execute(
            select(Outbox.channel, Outbox.kind, func.count())
            .where(Outbox.status == OutboxStatus.FAILED)
            .group_by(Outbox.channel, Outbox.kind)
        ):
            failed.add_metric([channel, str(kind)], count)
        yield failed

        backlog = measure(session, now)
        yield _gauge(
            "keepposted_updates_due",
            "Cases whose interim update is due and not yet queued",
            backlog.updates_due,
        )
        yield _gauge(
            "keepposted_updates_oldest_due_seconds",
            "How long the most overdue interim update has waited (0 when none is due)",
            backlog.oldest_due_seconds,
        )
        yield _gauge(
            "keepposted_outbox_waiting",
            "Outbound messages ready to send and not yet taken by a worker",
            backlog.outbox_waiting,
        )
        yield _gauge(
            "keepposted_outbox_oldest_waiting_seconds",
            "How long the oldest ready outbound message has waited (0 when none waits)",
            backlog.oldest_waiting_seconds,
        )
        yield _gauge(
            "keepposted_outbox_in_flight",
            "Outbound messages taken by a worker and being sent",
            backlog.in_flight,
        )
        yield _gauge(
            "keepposted_outbox_expired_leases",
            "Outbound messages taken by a worker that stopped; the next send run recovers them",
            backlog.expired_leases,
        )
        yield _gauge(
            "keepposted_outbox_failed_last_hour",
            "Outbound messages queued in the last hour and given up on",
            backlog.failed_last_hour,
        )
        yield from _waiting_by_class(session, now)
        late = GaugeMetricFamily(
            "keepposted_interim_late_seconds",
            "How late interim updates went out (sent minus due) over the newest ones sent",
            labels=["quantile"],
        )
        for quantile, value in (
            ("0.5", backlog.late_p50_seconds),
            ("0.99", backlog.late_p99_seconds),
        ):
            if value is not None:
                late.add_metric([quantile], value)
        yield late


def _waiting_by_class(session: Session, now: datetime) -> Iterator[Metric]:
    """Ready messages and the oldest one's wait per priority class (bot/outbox/priority.py), in
    one query on ix_outbox_claim. Every class is always there (0 when empty), so a dashboard
    shows a class's backlog going to zero rather than its series vanishing."""
    waiting = GaugeMetricFamily(
        "keepposted_outbox_waiting_by_class",
        "Outbound messages ready to send and not yet taken, by priority class (answer first)",
        labels=["priority"],
    )
    oldest = GaugeMetricFamily(
        "keepposted_outbox_oldest_waiting_by_class_seconds",
        "How long the oldest ready outbound message of each priority class has waited",
        labels=["priority"],
    )
    found = {
        priority: (count, first)
        for priority, count, first in session.execute(
            select(Outbox.priority, func.count(), func.min(Outbox.not_before))
            .where(Outbox.status == OutboxStatus.PENDING, Outbox.not_before <= now)
            .group_by(Outbox.priority)
        )
    }
    for urgency in Urgency:
        count, first = found.get(int(urgency), (0, None))
        name = urgency.name.lower()
        waiting.add_metric([name], count)
        oldest.add_metric([name], max((now - first).total_seconds(), 0.0) if first else 0.0)
    yield waiting
    yield oldest


class RequestMetrics:
    """This process's webhook latency and responses, recorded by request hooks."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.latency = Histogram(
            "keepposted_webhook_seconds",
            "Time to answer a webhook or API request, by method, URL rule and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.responses = Counter(
            "keepposted_http_responses",
            "HTTP responses by method, URL rule and status",
            ["method", "route", "status"],
            registry=registry,
        )

    def start(self) -> None:
        g.keepposted_started = time.perf_counter()

    def finish(self, response: Response) -> Response:
        # Every label comes from a fixed set: a rule of this app, a known method, a status.
        rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        method = method_label(request.method)
        labels = (method, rule, str(response.status_code))
        self.responses.labels(*labels).inc()
        started = g.pop("keepposted_started", None)
        if started is not None and is_webhook(method, rule):
            self.latency.labels(*labels).observe(time.perf_counter() - started)
        return response


def _scrape_registry(core: Core, process: CollectorRegistry) -> CollectorRegistry:
    """What /metrics exposes: this process's figures (or all workers' in multiprocess mode)
    and the database's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = process
    registry.register(DatabaseCollector(core))
    return registry


def register_metrics(app: Flask, core: Core, *, token: str | None = None) -> None:
    """Add `GET /metrics` and the request hooks; `token` defaults to `METRICS_TOKEN`."""
    token = token if token is not None else os.environ.get("METRICS_TOKEN") or None
    process = CollectorRegistry()  # one per app: tests build many apps in one process
    requests = RequestMetrics(process)
    registry = _scrape_registry(core, process)
    app.before_request(requests.start)
    app.after_request(requests.finish)

    @app.get("/metrics")
    def metrics() -> Response:
        if token is not None:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.encode(), token.encode()
            ):
                raise Unauthorized("send the metrics token as `Authorization: Bearer <token>`")
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        response = Response(encode(registry), content_type=content_type)
        response.headers["Cache-Control"] = "no-store"
        return response
