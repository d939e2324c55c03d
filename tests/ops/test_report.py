"""`keepposted report` and the admin charts' figures: real flows over four days, frozen clock."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from flask.testing import FlaskClient

from bot.app import create_app
from bot.cli import main
from bot.clock import FrozenClock
from bot.config import Config, Settings, parse_config
from bot.core import Core, create_core
from bot.errors import ConfigError
from bot.ops.report import CSV_FIELDS, MAX_DAYS, DayFigures, Report, build_report, day_window
from bot.store.migrate import upgrade
from bot.worker import tick
from channels.registry import ChannelRegistry
from tests.conftest import (
    API_TOKEN,
    TEST_CONFIG,
    Customer,
    auth_header,
    later,
    open_case,
    resolved_case,
)
from tests.support.fakes import FakeChannel
from tests.support.pg_server import PostgresServer

NEW_YORK = "America/New_York"
PHONES = {
    "maria": "+12125550101",
    "john": "+12125550102",
    "ana": "+12125550103",
    "lee": "+12125550104",
    "sam": "+12125550105",
    "kim": "+12125550106",
    "raj": "+12125550107",
}
MON, TUE, WED, THU = (date(2026, 11, day) for day in (23, 24, 25, 26))
ASKED = ("john", "ana", "lee", "sam")  # resolved at once on Monday
HOUR = 3600.0
ANA_WAIT = 13 * HOUR + 59 * 60 + 59  # asked Mon 10:00, said YES Mon 23:59:59 (New York)


def utc(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def contact(name: str) -> dict[str, Any]:
    return {"contact": {"name": name.title(), "phone": PHONES[name]}}


def play_week(
    core: Core, client: FlaskClient, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> None:
    """Four days in New York (EST, UTC-5), the ground truth of every figure checked below.

    Mon: five cases open at 10:00. Maria's P1 case gets updates due 10:30, 12:30 and 14:35, sent
    0, 5 and 10 minutes late, and is resolved at 14:45. John, Ana, Lee and Sam's cases are
    resolved at once. John says YES after 1h (score 4), Maria after 2h (score 5), Ana at
    23:59:59. Tue: Lee says REOPEN at 00:00 and an agent closes the case; Sam is reminded.
    Wed: nothing. Thu: Sam's case auto-closes at 10:30; two new cases wait on a third party and
    get a delay notice each, one of which fails.
    """
    auth, people = auth_header(), {n: Customer(core, channels, p) for n, p in PHONES.items()}
    clock.set(utc(23, 15))
    maria_case = open_case(client, auth, priority="P1", **contact("maria"))["id"]
    resolved = {name: resolved_case(client, auth, **contact(name)) for name in ASKED}
    later(clock, core)  # the four confirmation requests go out at 15:00
    later(clock, core, minutes=30)  # Maria's first update, due 15:30, on the dot
    clock.set(utc(23, 16))
    people["john"].says("YES")
    people["john"].says("4")
    clock.set(utc(23, 17, 35))
    tick(core, "test")  # the second update was due 17:30: 5 minutes late is still on time
    clock.set(utc(23, 19, 45))
    tick(core, "test")  # the third was due 19:35: 10 minutes late
    resolution = {"resolution": "Line card replaced."}
    response = client.post(f"/api/v1/cases/{maria_case}/resolve", json=resolution, headers=auth)
    assert response.status_code == 200, response.get_json()
    later(clock, core)  # Maria is asked at 19:45
    clock.set(utc(23, 21, 45))
    people["maria"].says("YES")
    people["maria"].says("5")
    clock.set(utc(24, 4, 59, 59))  # Monday 23:59:59 in New York, Tuesday in UTC
    people["ana"].says("YES")
    clock.set(utc(24, 5))  # Tuesday 00:00 in New York
    people["lee"].says("REOPEN")
    closed = client.post(f"/api/v1/cases/{resolved['lee']}/close", json={}, headers=auth)
    assert closed.status_code == 200, closed.get_json()
    clock.set(utc(24, 15))
    tick(core, "test")  # Sam's reminder
    clock.set(utc(26, 15, 30))
    tick(core, "test")  # Sam's case auto-closes
    for name in ("kim", "raj"):
        if name == "raj":
            channels["sms"].fail_next(1, retryable=False, code="30006")
        case_id = open_case(client, auth, **contact(name))["id"]
        waiting = {"reason": "third_party"}
        response = client.post(f"/api/v1/cases/{case_id}/wait", json=waiting, headers=auth)
        assert response.status_code == 200, response.get_json()
        tick(core, "test")
    clock.set(utc(26, 16))


@pytest.fixture
def week(
    core: Core, client: FlaskClient, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Core:
    play_week(core, client, clock, channels)
    return core


def report_of(
    core: Core, zone: str = NEW_YORK, *, first: date | None = MON, last: date | None = None
) -> Report:
    """The report from the start of day `first` to the end of day `last` (or now)."""
    since, until = day_window(first, last, zone)
    with core.sessions() as session:
        return build_report(
            session,
            since=since,
            until=until,
            now=core.clock.now(),
            zone=zone,
            on_time_within=timedelta(minutes=5),
        )


def counts(day: DayFigures) -> tuple[int, ...]:
    return (
        day.cases_opened,
        day.updates_sent,
        day.interim_on_time,
        day.interim_timed,
        day.confirmations_requested,
        day.confirmed,
        day.reopen_requested,
        day.auto_closed,
        day.delay_notices_sent,
        day.failed_deliveries,
    )


def check_week_in_new_york(report: Report) -> None:
    t = report.totals
    assert (t.cases_opened, report.cases_open_now) == (7, 2)
    assert (t.interim_sent, t.delay_notices_sent, t.updates_sent, t.failed_deliveries) == (
        3,
        1,
        4,
        1,
    )
    assert (t.interim_on_time, t.interim_timed, t.on_time_share) == (2, 3, 2 / 3)
    assert (t.confirmations_requested, t.confirmed, t.reopen_requested, t.auto_closed) == (
        5,
        3,
        1,
        1,
    )
    assert (t.confirmation_rate, t.reopen_rate, t.auto_close_rate) == (0.6, 0.2, 0.2)
    assert (t.median_time_to_confirm_s, t.p90_time_to_confirm_s) == (2 * HOUR, ANA_WAIT)
    assert (t.csat_average, t.csat_count) == (4.5, 2)

    mon, tue, wed, thu = report.daily
    assert [d.date for d in report.daily] == [MON, TUE, WED, THU]
    assert counts(mon) == (5, 3, 2, 3, 5, 3, 0, 0, 0, 0)
    assert (mon.confirmation_rate, mon.reopen_rate, mon.auto_close_rate) == (1.0, 0.0, 0.0)
    assert (mon.median_time_to_confirm_s, mon.p90_time_to_confirm_s) == (2 * HOUR, ANA_WAIT)
    assert (mon.csat_average, mon.csat_count) == (4.5, 2)
    assert counts(tue) == (0, 0, 0, 0, 0, 0, 1, 0, 0, 0)
    assert (tue.confirmation_rate, tue.reopen_rate, tue.median_time_to_confirm_s) == (0, 1, None)
    assert wed == DayFigures(date=WED)  # a day with nothing is there, with zeros
    assert (wed.confirmation_rate, wed.on_time_share, wed.median_time_to_confirm_s) == (None,) * 3
    assert counts(thu) == (2, 1, 0, 0, 0, 0, 0, 1, 1, 1)
    assert (thu.auto_close_rate, thu.on_time_share) == (1.0, None)


def test_every_figure_of_a_week(week: Core) -> None:
    report = report_of(week)
    assert (report.since, report.until) == (utc(23, 5), utc(26, 16))  # until: now, at the latest
    check_week_in_new_york(report)
    assert report.days_left_out == 0


def test_days_are_calendar_days_of_the_ops_zone(week: Core) -> None:
    # In UTC, Ana's YES (23:59:59 in New York) and Lee's REOPEN fall on Tuesday.
    mon, tue, *_ = report_of(week, "UTC").daily
    assert (mon.confirmed, mon.median_time_to_confirm_s, mon.p90_time_to_confirm_s) == (
        2,
        1.5 * HOUR,
        2 * HOUR,
    )
    assert (tue.confirmed, tue.reopen_requested, tue.confirmation_rate) == (1, 1, 0.5)
    assert tue.median_time_to_confirm_s == ANA_WAIT
    # In Kolkata (UTC+5:30) Monday ends at 18:30 UTC: Maria's 19:45 update is on Tuesday.
    kolkata = report_of(week, "Asia/Kolkata")
    assert [(d.date, d.interim_sent, d.interim_on_time) for d in kolkata.daily[:3]] == [
        (MON, 2, 2),
        (TUE, 1, 0),
        (WED, 0, 0),
    ]
    assert kolkata.totals == report_of(week, "UTC").totals


def test_days_across_a_daylight_saving_change(
    core: Core, client: FlaskClient, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> None:
    # New York falls back on Sunday 1 November 2026: that day lasts 25 hours, 04:00 to 05:00 UTC.
    clock.set(datetime(2026, 10, 31, 14, tzinfo=UTC))
    answers = {
        "maria": datetime(2026, 11, 1, 3, 59, 59, tzinfo=UTC),  # Saturday 23:59:59 EDT
        "john": datetime(2026, 11, 1, 4, tzinfo=UTC),  # Sunday 00:00 EDT
        "ana": datetime(2026, 11, 2, 4, 59, 59, tzinfo=UTC),  # Sunday 23:59:59 EST
        "lee": datetime(2026, 11, 2, 5, tzinfo=UTC),  # Monday 00:00 EST
    }
    for name in answers:
        resolved_case(client, auth_header(), **contact(name))
    later(clock, core)
    for name, moment in answers.items():
        clock.set(moment)
        Customer(core, channels, PHONES[name]).says("YES")
    clock.set(datetime(2026, 11, 2, 15, tzinfo=UTC))
    daily = report_of(core, first=date(2026, 10, 31)).daily
    assert [(d.date.day, d.confirmed) for d in daily] == [(31, 1), (1, 2), (2, 1)]


def test_a_window_of_days_and_an_open_start(week: Core) -> None:
    tuesday_and_wednesday = report_of(week, first=TUE, last=WED)
    assert [d.date for d in tuesday_and_wednesday.daily] == [TUE, WED]
    t = tuesday_and_wednesday.totals
    assert (t.cases_opened, t.reopen_requested, t.confirmed, t.reopen_rate) == (0, 1, 0, 1.0)
    assert tuesday_and_wednesday.until == utc(26, 5)
    everything = report_of(week, first=None)  # from the first day with data
    assert everything.since is None and everything.daily[0].date == MON
    assert everything.totals == report_of(week).totals


def test_a_month_not_over_yet_lists_days_up_to_today(week: Core) -> None:
    november = report_of(week, last=date(2026, 11, 30))
    assert november.until == datetime(2026, 12, 1, 5, tzinfo=UTC)
    assert november.daily[-1].date == THU and november.totals == report_of(week).totals


def test_what_happens_this_very_moment_counts(
    core: Core, client: FlaskClient, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> None:
    resolved_case(client, auth_header())
    later(clock, core, minutes=5)
    Customer(core, channels, PHONES["maria"]).says("YES")  # at now, to the microsecond
    assert report_of(core).totals.confirmed == 1


def test_a_long_window_lists_its_last_days_only(week: Core) -> None:
    report = report_of(week, first=MON - timedelta(days=MAX_DAYS))
    assert len(report.daily) == MAX_DAYS and report.days_left_out == 4
    assert report.daily[-1].date == THU and report.daily[0].date == MON - timedelta(days=396)
    assert report.totals == report_of(week).totals  # the totals still cover the whole window


def test_an_empty_window_is_refused_and_an_empty_log_reports_nothing(core: Core) -> None:
    assert report_of(core, first=None).daily == []
    quiet = report_of(core)
    assert [d.date for d in quiet.daily] == [MON]
    assert quiet.totals.confirmation_rate is None and quiet.totals.median_time_to_confirm_s is None
    with pytest.raises(ValueError, match="nothing to report"):
        report_of(core, first=TUE)  # tomorrow


def test_json_has_iso_dates_numbers_and_nulls(week: Core) -> None:
    data = json.loads(json.dumps(report_of(week).as_dict()))
    assert (data["since"], data["until"], data["zone"]) == (
        "2026-11-23T05:00:00Z",
        "2026-11-26T16:00:00Z",
        NEW_YORK,
    )
    assert data["on_time_within_s"] == 300 and data["cases_open_now"] == 2
    assert data["totals"]["p90_time_to_confirm_s"] == ANA_WAIT
    wednesday = data["daily"][2]
    assert (wednesday["date"], wednesday["updates_sent"], wednesday["confirmation_rate"]) == (
        "2026-11-25",
        0,
        None,
    )


# -- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli(
    week: Core,
    database_url: str,
    clock: FrozenClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[CliRunner]:
    """`keepposted` on the week's database, with the test config and the frozen clock."""
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(TEST_CONFIG), encoding="utf-8")
    built: list[Core] = []

    def frozen_core(config: Config, settings: Settings) -> Core:
        built.append(create_core(config, settings, clock=clock))
        return built[-1]

    monkeypatch.setattr("bot.cli.state.create_core", frozen_core)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KEEPPOSTED_CONFIG", str(config_file))
    yield CliRunner()
    for core in built:
        core.engine.dispose()


def report_command(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(main, ["report", "--since", "2026-11-23", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_table_shows_totals_then_days(cli: CliRunner) -> None:
    out = report_command(cli, "--until", "2026-11-26")
    assert out.splitlines()[0] == "keepposted report 2026-11-23 to 2026-11-26 (America/New_York)"
    for line in (
        "  cases opened               7",
        "  cases open now             2",
        "  interim updates on time    67% (2 of 3 within 5m)",
        "  confirmed by customer      3",
        "  reopen requests            1",
        "  confirmation rate          60%",
        "  median time to confirm     2.0h",
        "  p90 time to confirm        14.0h",
        "  CSAT average               4.50",
    ):
        assert line + "\n" in out
    days = out.split("\n\n")[1].splitlines()
    assert days[0].split() == [
        "date",
        "opened",
        "updates",
        "on",
        "time",
        "confirmed",
        "reopens",
        "auto-closed",
        "confirm",
        "%",
        "reopen",
        "%",
        "auto-close",
        "%",
        "median",
        "to",
        "confirm",
    ]
    assert days[1].split() == [
        "2026-11-23",
        "5",
        "3",
        "2/3",
        "3",
        "0",
        "0",
        "100%",
        "0%",
        "0%",
        "2.0h",
    ]
    assert days[3].split() == ["2026-11-25", "0", "0", "-", "0", "0", "0", "-", "-", "-", "-"]
    assert len({len(line) for line in days}) == 1  # aligned


def test_cli_csv_is_one_table_with_a_total_row(cli: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "november.csv"
    result = cli.invoke(
        main, ["report", "--since", "2026-11-23", "--format", "csv", "--output", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert f"wrote the report to {target}" in result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert tuple(rows[0]) == CSV_FIELDS
    assert [r["date"] for r in rows] == [
        "2026-11-23",
        "2026-11-24",
        "2026-11-25",
        "2026-11-26",
        "total",
    ]
    total = rows[-1]
    assert (total["cases_opened"], total["confirmed"], total["confirmation_rate"]) == (
        "7",
        "3",
        "0.6",
    )
    assert (total["on_time_share"], total["median_time_to_confirm_s"]) == ("0.6667", "7200.0")
    assert (rows[2]["confirmation_rate"], rows[2]["updates_sent"]) == ("", "0")


def test_cli_json_matches_build_report(cli: CliRunner, week: Core) -> None:
    data = json.loads(report_command(cli, "--format", "json"))
    assert data == json.loads(json.dumps(report_of(week).as_dict()))
    assert [d["date"] for d in data["daily"]] == [
        "2026-11-23",
        "2026-11-24",
        "2026-11-25",
        "2026-11-26",
    ]


def test_cli_explains_a_bad_window(cli: CliRunner) -> None:
    backwards = cli.invoke(main, ["report", "--since", "2026-11-25", "--until", "2026-11-24"])
    assert backwards.exit_code == 2 and "the first day comes after the last" in backwards.output
    future = cli.invoke(main, ["report", "--since", "2026-12-01"])
    assert future.exit_code == 2 and "nothing to report" in future.output
    not_a_date = cli.invoke(main, ["report", "--since", "23/11/2026"])
    assert (
        not_a_date.exit_code == 2 and "'23/11/2026' does not match the format" in not_a_date.output
    )


def test_on_time_within_is_a_validated_duration() -> None:
    assert parse_config({}).reports.on_time_within == timedelta(minutes=5)
    assert parse_config({"reports": {"on_time_within": "90s"}}).reports.on_time_within == timedelta(
        seconds=90
    )
    with pytest.raises(ConfigError, match=r"reports\.on_time_within"):
        parse_config({"reports": {"on_time_within": "soon"}})


# -- PostgreSQL: the same week, the same figures -------------------------------------------


@pytest.mark.postgres
def test_the_same_figures_on_postgresql(
    pg_server: PostgresServer,
    config: Config,
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
) -> None:
    url = pg_server.create_database(f"keepposted_{uuid.uuid4().hex[:16]}")
    upgrade(url)
    settings = Settings(database_url=url, api_token=API_TOKEN)
    core = create_core(config, settings, clock=clock, channels=ChannelRegistry(dict(channels)))
    try:
        play_week(core, create_app(core=core).test_client(), clock, channels)
        check_week_in_new_york(report_of(core))
        assert report_of(core, "Asia/Kolkata").daily[1].interim_sent == 1
    finally:
        core.engine.dispose()
