"""Capacity you can see: the open cases' SMS need against the sender pool, from a real database
through `keepposted status` and `keepposted config check`."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from bot.cli import main
from bot.config import Config, QuietHours, parse_config
from bot.domain import CaseStatus
from bot.ops.capacity import measure, rhythm
from bot.render import Templates
from bot.store.db import make_engine, make_readers, make_sessions
from bot.store.migrate import upgrade
from bot.store.models import Case, Contact
from channels.sms import sender_for
from tests.conftest import START
from tests.support.pg_server import PostgresServer

NUMBERS = ["+12125550001", "+12125550002", "+12125550003"]


def config_data(**sms: Any) -> dict[str, Any]:
    """P2 every 5m, 21:00-08:00 quiet hours (13 h to send in), a one-segment interim update."""
    return {
        "timezone": "America/New_York",
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        "cadences": {
            "default": {"every": "24h"},
            "priority": {"P1": {"every": "1h"}, "P2": {"every": "5m"}},
        },
        "channels": {"sms": {"from": NUMBERS[:1], "mps": 1, **sms}},
        "templates": {"sms": {"interim": "Update on case {{ case.label }}. Reply STATUS."}},
    }


def seed(url: str, count: int, *, first: int = 0, **case: Any) -> list[str]:
    """`count` open cases, each with its own SMS contact, in bulk; returns their phones."""
    engine = make_engine(url)
    phones = [f"+1212{first + i:07d}" for i in range(count)]
    try:
        with make_sessions(engine).begin() as session:
            for phone in phones:
                contact = Contact(
                    phone=phone,
                    channel="sms",
                    opted_out=[],
                    unreachable=[],
                    created_at=START,
                )
                session.add(
                    Case(
                        subject="Internet down",
                        priority=case.get("priority", "P2"),
                        category=case.get("category"),
                        cadence_every_s=case.get("every_s"),
                        status=case.get("status", CaseStatus.OPEN),
                        paused=case.get("paused", False),
                        contact=contact,
                        next_update_at=START,
                        created_at=START,
                        updated_at=START,
                    )
                )
    finally:
        engine.dispose()
    return phones


def kp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, data: dict[str, Any]
) -> CliRunner:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("KEEPPOSTED_CONFIG", str(path))
    monkeypatch.setenv("DATABASE_URL", url)
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> Result:
    result = runner.invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


def status_json(runner: CliRunner) -> dict[str, Any]:
    figures: dict[str, Any] = json.loads(invoke(runner, "status", "--json").output)
    return figures


def open_seconds(quiet: QuietHours) -> float:
    return quiet.awake.total_seconds()


def test_quiet_hours_leave_the_hours_outside_them() -> None:
    assert open_seconds(QuietHours(start="21:00", end="08:00")) == 13 * 3600  # type: ignore[arg-type]
    assert open_seconds(QuietHours(start="01:00", end="06:00")) == 19 * 3600  # type: ignore[arg-type]
    assert open_seconds(QuietHours(enabled=False)) == 86_400


def test_quiet_hours_shape_the_rhythm_of_a_cadence() -> None:
    window = 13 * 3600
    assert rhythm(300, window).updates_per_day == 156  # 13h / 5m: the night's due one waits
    assert rhythm(8 * 3600, window).updates_per_day == 2  # 08:00, 16:00; 00:00 waits for 08:00
    assert rhythm(24 * 3600, window).updates_per_day == 1
    assert rhythm(8 * 3600, 86_400).updates_per_day == 3  # no quiet hours: 86400 / every
    # 12h30m: 08:00, 20:30, then 09:00 the next day: the schedule drifts instead of resetting.
    assert rhythm(45_000, window).updates_per_day == pytest.approx(1.5, abs=0.05)


def test_a_pool_that_fits_says_its_headroom(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(database_url, 200)  # 200 x 156 updates x 1 segment = 31,200 of 46,800 a day
    runner = kp(tmp_path, monkeypatch, database_url, config_data())
    figures = status_json(runner)
    assert "updates_due" in figures and "late_p99_seconds" in figures  # the probe's keys stay
    capacity = figures["capacity"]
    assert capacity["fits"] is True
    assert capacity["capacity_per_day"] == 46_800 and capacity["need_per_day"] == 31_200
    assert capacity["cadences"] == [
        {
            "cadence": "P2",
            "every_seconds": 300,
            "cases": 200,
            "segments_per_update": 1,
            "updates_per_day": 156,
            "need_per_second": 0.667,
        }
    ]
    text = invoke(runner, "status").output
    assert "P2 every 5m: 200 open cases need 0.67 segments/s in the 13h outside quiet hours" in text
    assert "fits: 0.67 of the pool's 1 segment/s (67%); room for about 100 more P2 every 5m" in text
    assert "not counted: a new case's first update, confirmation requests" in text


def test_a_cadence_the_pool_cannot_keep_names_the_need_and_the_pool(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(database_url, 400)  # 62,400 segments a day: 1.33 a second over 13 hours
    seed(database_url, 50, first=400, status=CaseStatus.RESOLVED)  # not updating: not counted
    seed(database_url, 50, first=450, paused=True)
    runner = kp(tmp_path, monkeypatch, database_url, config_data())
    text = invoke(runner, "status").output
    assert (
        "WARNING: P2 every 5m: 400 open cases need 1.3 segments/s in the 13h outside quiet "
        "hours; the pool (1 number at 1/s) has 1. This cadence cannot be kept: add 1 number "
        "or lengthen it to 7m." in text
    )  # 7m: 112 updates a day each fit in 46,800 / 400 = 117; 6m's 130 do not
    # The update due each night waits for 08:00: 400 segments, 6m40s at one a second.
    assert "quiet hours hold about 400 segments each night" in text
    assert "the pool takes 7m to send them when they end" in text
    assert status_json(runner)["capacity"]["fits"] is False
    # config check warns the same way and still passes: the file is not wrong.
    checked = invoke(runner, "config", "check").output
    assert "This cadence cannot be kept: add 1 number or lengthen it to 7m." in checked
    assert checked.rstrip().endswith("config is valid.")


def test_several_numbers_share_the_load_and_the_busiest_one_is_named(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    phones = seed(database_url, 400)
    runner = kp(tmp_path, monkeypatch, database_url, config_data(**{"from": NUMBERS}))
    text = invoke(runner, "status").output
    assert "capacity (SMS): 3 numbers at 1/s = 3 segments/s" in text
    assert "fits: 1.3 of the pool's 3 segments/s (44%)" in text
    # Each contact keeps their number: the busiest number is the one most of them hash to.
    shares = Counter(sender_for(phone, tuple(NUMBERS)) for phone in phones)
    number, contacts = shares.most_common(1)[0]
    need = contacts * 156 / (13 * 3600)
    assert f"busiest number {number}: {contacts} of 400 contacts, {need:.2f} segments/s" in text
    busiest = status_json(runner)["capacity"]["busiest_sender"]
    assert busiest == {"contacts": contacts, "need_per_second": round(need, 3)}


def test_quiet_hours_shrink_the_window(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(database_url, 600, priority="P3")  # the default, once a day: 600 segments a day
    data = config_data(mps=0.01)  # 864 segments in a whole day, 468 in 13 hours
    runner = kp(tmp_path, monkeypatch, database_url, {**data, "quiet_hours": {"enabled": False}})
    assert "fits: 0.0069 of the pool's 0.01 segments/s (69%)" in invoke(runner, "status").output
    runner = kp(tmp_path, monkeypatch, database_url, data)
    text = invoke(runner, "status").output
    assert "default every 1d: 600 open cases need 0.013 segments/s in the 13h outside" in text
    # Every 29h from 08:00 sends at 08:00, 13:00, 18:00, then waits out the night: 3 updates
    # in 4 days, 450 segments a day; 28h's 4 in 5 days (480) do not fit in 468.
    assert "This cadence cannot be kept: add 1 number or lengthen it to 1d5h." in text


def test_per_case_cadences_count_by_their_own_every(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(database_url, 100)  # P2 every 5m
    seed(database_url, 300, first=100, every_s=86_400)  # P2, but /case cadence 1d
    seed(database_url, 50, first=400, priority="P1", category="outage")  # no such category: P1
    runner = kp(tmp_path, monkeypatch, database_url, config_data())
    cadences = {c["cadence"]: c for c in status_json(runner)["capacity"]["cadences"]}
    assert cadences["P2"]["cases"] == 100 and cadences["P2"]["updates_per_day"] == 156
    assert (
        cadences["own cadence"]["cases"] == 300
        and cadences["own cadence"]["every_seconds"] == 86_400
    )
    assert cadences["own cadence"]["updates_per_day"] == 1
    assert cadences["P1"]["cases"] == 50 and cadences["P1"]["updates_per_day"] == 13
    text = invoke(runner, "status").output
    assert "own cadence every 1d: 300 open cases need 0.0064 segments/s" in text
    assert "together they need 0.35 segments/s" not in text  # it fits: no warning
    assert "fits: 0.35 of the pool's 1 segment/s" in text  # (15,600 + 300 + 650) / 46,800


def test_contacts_reached_elsewhere_are_not_sms_load(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(database_url, 10)
    engine = make_engine(database_url)
    with make_sessions(engine).begin() as session:
        session.add_all(
            [
                Case(
                    subject="Slack user",
                    contact=Contact(
                        slack_user_id="U0123", channel="slack", opted_out=[], created_at=START
                    ),
                    created_at=START,
                    updated_at=START,
                ),
                Case(  # left SMS: the chat page is where their updates go
                    subject="Opted out",
                    contact=Contact(
                        phone="+13125550100", opted_out=["sms"], unreachable=[], created_at=START
                    ),
                    created_at=START,
                    updated_at=START,
                ),
            ]
        )
    engine.dispose()
    runner = kp(tmp_path, monkeypatch, database_url, config_data())
    capacity = status_json(runner)["capacity"]
    assert capacity["sms_cases"] == 10 and capacity["other_cases"] == 2


def test_config_check_without_a_database_says_what_each_cadence_can_carry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "none.db"
    runner = kp(tmp_path, monkeypatch, f"sqlite:///{missing}", config_data(**{"from": NUMBERS}))
    out = invoke(runner, "config", "check").output
    assert "capacity (SMS): 3 numbers at 1/s = 3 segments/s, for the 13h outside quiet hours" in out
    assert "an interim update is 1 segment in en" in out
    assert "priority P2 every 5m: 900 (156 updates a day each)" in out  # 140,400 / 156
    assert "priority P1 every 1h: 10,800 (13 updates a day each)" in out
    assert "priority P3 every 1d: 140,400 (1 update a day each)" in out
    assert "open cases not counted: the database" in out and "does not exist" in out
    assert not missing.exists()  # the check created no empty database


def test_no_sender_configured_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    seed(database_url, 5)
    runner = kp(tmp_path, monkeypatch, database_url, config_data(**{"from": []}))
    assert "no SMS sender is set" in invoke(runner, "status").output


def test_translated_updates_count_their_own_segments(database_url: str) -> None:
    """A contact's language picks the template: a longer Spanish update costs more."""
    data = config_data()
    data["templates"]["sms"]["interim.es"] = "Actualización del caso " + "x" * 70  # UCS-2: 2
    config = parse_config(data)
    seed(database_url, 10)
    engine = make_engine(database_url)
    with make_sessions(engine).begin() as session:
        for contact in session.query(Contact).limit(4):
            contact.locale = "es"
    try:
        with make_readers(engine)() as session:
            found = measure(session, config, Templates(config))
    finally:
        engine.dispose()
    (load,) = found.loads
    assert load.segments == pytest.approx((6 * 1 + 4 * 2) / 10)


def test_postgresql_groups_the_open_cases_in_one_query(pg_server: PostgresServer) -> None:
    url = pg_server.create_database(f"keepposted_{uuid.uuid4().hex[:16]}")
    upgrade(url)
    seed(url, 30)
    seed(url, 20, first=30, every_s=3600)
    config: Config = parse_config(config_data(**{"from": NUMBERS}))
    engine = make_engine(url)
    try:
        with make_readers(engine)() as session:
            found = measure(session, config, Templates(config))
    finally:
        engine.dispose()
    assert sorted((lo.name, lo.cases) for lo in found.loads) == [("P2", 30), ("own cadence", 20)]
    assert found.contacts == 50 and found.busiest is not None
