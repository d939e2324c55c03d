"""config.yaml: typed, validated, and a bad file names the key and the problem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import Config, Settings, load_config, parse_config
from bot.durations import format_duration, parse_duration, parse_when
from bot.errors import ConfigError
from tests.conftest import START

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("30m", 1800),
        ("2h", 7200),
        ("3d", 259200),
        ("1h30m", 5400),
        (" 2H ", 7200),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "2", "2 hours", "-1h", "0s", "h", "1.5h"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"30s, 30m, 2h or 3d|longer than zero"):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for text in ("30s", "2h", "1d12h", "3d"):
        assert format_duration(parse_duration(text)) == text


def test_parse_when_reads_iso_and_durations() -> None:
    assert parse_when("2h", START) == START + timedelta(hours=2)
    assert parse_when("in 3d", START) == START + timedelta(days=3)
    assert parse_when("2026-11-24T09:00", START, "America/New_York").hour == 14
    assert parse_when("2026-11-24T09:00:00Z", START).hour == 9
    with pytest.raises(ValueError, match="2026-11-24T15:00"):
        parse_when("next tuesday", START)


def test_the_shipped_configs_are_valid() -> None:
    for path in (ROOT / "config.yaml", ROOT / "examples" / "demo.yaml"):
        config = load_config(path)
        assert config.cadences.for_case("P1", None).every > timedelta(0)
    shipped = load_config(ROOT / "config.yaml")
    assert shipped.cadences.for_case("P2", "outage").first == timedelta(minutes=15)
    assert shipped.cadences.for_case("P4", None).first == timedelta(days=3)
    assert "parts_on_order" in shipped.waiting_reasons


def test_defaults_cover_every_builtin_waiting_reason() -> None:
    config = parse_config({"waiting_reasons": {"vendor": {"label": "a vendor"}}})
    assert set(config.waiting_reasons) == {
        "third_party",
        "compliance_check",
        "investigation",
        "outage",
        "vendor",
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"cadences": {"priority": {"P2": {"every": "2 hours"}}}},
            "cadences.priority.P2.every: expected a duration like 30s, 30m, 2h or 3d",
        ),
        ({"cadences": {"priority": {"P9": {"every": "2h"}}}}, "priority 'P9' is not one of"),
        (
            {"cadences": {"default": {"first_after": "1h"}}},
            "cadences.default.every: Field required",
        ),
        ({"timezone": "Mars/Olympus"}, "timezone: unknown IANA time zone 'Mars/Olympus'"),
        ({"quiet_hours": {"start": "25:00"}}, "quiet_hours.start: expected a time of day"),
        (
            {"confirmation": {"reminder_after": "3d", "auto_close_after": "1d"}},
            "confirmation: reminder_after must be shorter than auto_close_after",
        ),
        ({"channels": {"sms": {"mps": 0}}}, "channels.sms.mps: Input should be greater than 0"),
        ({"cadense": {}}, "cadense: unknown key"),
        ({"keywords": {"confirm": "YES"}}, "keywords.confirm: Input should be a valid list"),
    ],
)
def test_a_bad_config_names_the_key_and_the_problem(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert message in str(caught.value)


def test_a_bad_file_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("cadences:\n  priority:\n    P1: {every: soon}\n")
    result = CliRunner().invoke(main, ["--config", str(bad), "config", "check"])
    assert result.exit_code == 2
    assert "cadences.priority.P1.every: expected a duration" in result.output
    assert "Traceback" not in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("cadences: [unclosed\n")
    result = CliRunner().invoke(main, ["--config", str(broken), "config", "check"])
    assert result.exit_code == 2 and "not valid YAML" in result.output
    missing = CliRunner().invoke(main, ["--config", str(tmp_path / "nope.yaml"), "config", "check"])
    assert missing.exit_code == 2 and "file not found" in missing.output


def test_config_check_prints_cadences_and_renders_every_template() -> None:
    result = CliRunner().invoke(main, ["--config", str(ROOT / "config.yaml"), "config", "check"])
    assert result.exit_code == 0, result.output
    assert "priority P1                       30m / 2h" in result.output
    assert "category outage (any priority)" in result.output
    for name in (
        "interim",
        "confirm_request",
        "delay_third_party",
        "delay_parts_on_order",
        "which_case",
        "opted_out",
        "csat_ask",
    ):
        assert f"sms/{name}" in result.output
    assert "Reply YES if this is fixed or REOPEN if not." in result.output
    assert "the replacement part is on order" in result.output
    assert "webchat: links live 30d" in result.output
    assert "webchat/status_text [waiting]: Waiting on a partner company" in result.output
    assert "webchat/page.html.j2: renders" in result.output


def test_config_check_fails_on_a_broken_webchat_override(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text('templates:\n  webchat:\n    status_text: "{{ case.nope }}"\n')
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 1 and "webchat: FAILED" in result.output


def test_config_check_fails_on_a_broken_template_override(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("templates:\n  sms:\n    interim: 'Hi {{ case.nope.deeper }}'\n")
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 1
    assert "sms/interim: FAILED" in result.output


def test_config_check_counts_sms_segments_and_fails_above_the_limit(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(ROOT / "config.yaml"), "config", "check"])
    assert "sms/confirm_request (1 segment, GSM-7," in result.output
    path = tmp_path / "config.yaml"
    path.write_text(
        "channels:\n  sms:\n    max_segments: 1\n"
        "templates:\n  sms:\n    csat_ask: 'How did we do? Rate us 1–5 ’'\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 1
    assert "sms/csat_ask (1 segment, UCS-2 (because of – U+2013, ’ U+2019)" in result.output
    assert "TOO LONG: 2 segments, over channels.sms.max_segments (1)" in result.output


def test_keyword_lists_replace_the_defaults() -> None:
    config = parse_config({"keywords": {"confirm": ["OK", "CONFIRM"]}})
    assert config.keyword_set.confirm == ("OK", "CONFIRM")
    assert "reopen" in [w.lower() for w in config.keyword_set.reopen]


def test_secrets_come_from_the_environment_only() -> None:
    settings = Settings.from_env({"API_TOKEN": "t", "DATABASE_URL": "", "TWILIO_AUTH_TOKEN": "x"})
    assert settings.api_token == "t" and settings.twilio_auth_token == "x"
    assert settings.database_url == "sqlite:///keepposted.db"
    with pytest.raises(ConfigError, match="api_token: unknown key"):
        parse_config({"api_token": "in the file"})
    assert isinstance(Config(), Config)


def test_config_check_renders_the_slack_layouts_and_says_who_may_use_case(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(ROOT / "config.yaml"), "config", "check"])
    assert result.exit_code == 0, result.output
    assert "slack/confirm_request.json.j2: 2 blocks, buttons: Confirm, it's fixed | Reopen" in (
        result.output
    )
    assert "slack/alert.json.j2: 3 blocks, buttons: Send update | Resolve | Assign to me" in (
        result.output
    )
    assert "nobody may use /case yet" in result.output
    path = tmp_path / "config.yaml"
    path.write_text("channels:\n  slack:\n    agents: [U0123ABCD, ana.ruiz]\n")
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert "nobody may use /case" not in result.output
    assert "channels.slack.agents: ana.ruiz do not look like Slack user ids" in result.output


@pytest.mark.parametrize("zone", ["America", "Etc", "America/", "x" * 300, "posixrules"])
def test_a_timezone_that_is_a_folder_or_too_long_is_refused_by_name(zone: str) -> None:
    """ZoneInfo opens any path under the zone folders: a folder raised IsADirectoryError and a
    long name OSError, where only an IANA zone key may pass."""
    with pytest.raises(ConfigError) as caught:
        parse_config({"timezone": zone})
    assert "timezone: unknown IANA time zone" in str(caught.value)
    assert len(str(caught.value)) < 200  # a pasted page is not echoed back whole


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata", "Etc/GMT+5"])
def test_a_real_timezone_key_still_passes(zone: str) -> None:
    assert parse_config({"timezone": zone}).timezone == zone
