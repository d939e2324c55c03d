"""The production processes: `serve` (gunicorn), `worker`, and `status` (how far behind)."""

from __future__ import annotations

import json
from typing import Any

import click

from bot.cli.state import State, pass_state
from bot.ops.readiness import require_templates
from bot.store.db import shown_url


@click.command()
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - a server's job
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@pass_state
def serve(state: State, host: str, port: int, workers: int) -> None:
    """Serve the web app with gunicorn."""
    from gunicorn.app.base import BaseApplication

    from bot import gunicorn_conf
    from bot.process_logging import configure_logging

    config = state.config  # a bad config stops here, before any worker boots
    require_templates(config, state.core.templates)  # ... and so do broken templates
    state.core.engine.dispose()  # the workers open their own connections after the fork
    configure_logging()

    class Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("logconfig_dict", gunicorn_conf.logconfig_dict)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn 25 and later
                self.cfg.set("control_socket_disable", gunicorn_conf.control_socket_disable)

        def load(self) -> Any:
            from bot.app import create_app

            return create_app(config)

    Gunicorn().run()


@click.command()
@pass_state
def worker(state: State) -> None:
    """Run the interval jobs: due updates, confirmation timers, ETAs, the outbox."""
    from bot.process_logging import configure_logging
    from bot.worker import run_worker

    require_templates(state.config, state.core.templates)  # refused before logging is set up
    configure_logging()
    click.echo(
        f"keepposted worker on {shown_url(state.core.settings.database_url)}; Ctrl-C to stop."
    )
    run_worker(state.core)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="one JSON object, for a monitoring probe")
@pass_state
def status(state: State, as_json: bool) -> None:
    """How far behind the workers are: due updates, the outbox, leases, failures, lateness;
    and whether the SMS senders can carry the open cases' cadences."""
    from bot.ops import backlog, capacity

    core = state.core
    with core.readers() as session:
        behind = backlog.measure(session, core.clock.now()).as_dict()
        carried = capacity.measure(session, core.config, core.templates)
    if as_json:
        click.echo(json.dumps({**behind, "capacity": carried.as_dict()}))
        return
    for name, value in behind.items():
        click.echo(f"{name.replace('_', ' ')}: {'-' if value is None else value}")
    for line in carried.lines():
        click.echo(line)
