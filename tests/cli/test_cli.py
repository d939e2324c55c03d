"""The command line: db upgrade, demo, case ..., report, and the one-worker rule on SQLite."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.errors import WorkerAlreadyRunning
from bot.worker import WorkerLock
from tests.support.processes import read_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def kp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("KEEPPOSTED_CONFIG", str(ROOT / "examples" / "demo.yaml"))
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    return runner


def run(runner: CliRunner, *args: str) -> Result:
    result = runner.invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_demo_plays_whole_cases_in_dry_run(kp: CliRunner) -> None:
    out = run(kp, "demo", "--history-days", "0").output
    assert "Seeded 4 contacts and 5 cases" in out
    # The dry-run console masks the number (channels/dryrun.py), as every log line does.
    assert "[simulated sms -> +*********42] Thank you for confirming. Case #4 is now closed." in out
    assert "[simulated slack -> #support-alerts] :rotating_light: #5" in out
    assert "log verify: ok" in out
    assert "already there" in run(kp, "demo").output  # seeding twice changes nothing
    shown = run(kp, "case", "show", "4").output
    assert "[simulated] Thank you for confirming" in shown and "csat_received" in shown
    report = run(kp, "report").output
    assert "confirmed by customer      1" in report and "reopen requests            1" in report


@pytest.mark.slow
def test_demo_history_fills_the_report_day_by_day(kp: CliRunner) -> None:
    out = run(kp, "demo", "--history-days", "3").output
    played = int(re.search(r"Played (\d+) past cases", out).group(1))  # type: ignore[union-attr]
    assert 6 <= played <= 15 and "log verify: ok" in out
    figures = json.loads(run(kp, "report", "--format", "json").output)
    busy = [day for day in figures["daily"] if day["cases_opened"]]
    assert len(busy) >= 3  # the three past days and today
    assert figures["totals"]["cases_opened"] == played + 5
    outcomes = figures["totals"]
    assert outcomes["confirmed"] + outcomes["auto_closed"] >= played
    assert "ok: " in run(kp, "log", "verify").output


def test_case_new_list_show_resolve(kp: CliRunner) -> None:
    made = run(
        kp,
        "case",
        "new",
        "--subject",
        "No dial tone",
        "--phone",
        "(212) 555-0188",
        "--name",
        "Lee",
        "--priority",
        "P1",
        "--ref",
        "ZD-9",
        "--eta",
        "4h",
    ).output
    assert "#1 No dial tone" in made and "status open" in made
    assert "#1  open     P1" in run(kp, "case", "list").output
    resolved = run(kp, "case", "resolve", "1", "Line repaired at the exchange").output
    assert "status resolved" in resolved
    shown = run(kp, "case", "show", "1").output
    assert "contact Lee via sms" in shown
    assert "resolution_proposed" in shown
    assert run(kp, "case", "list", "--status", "resolved").output.count("#1") == 1


@pytest.mark.slow
def test_status_shows_the_backlog_a_monitor_should_watch(kp: CliRunner) -> None:
    run(kp, "demo")
    figures = json.loads(run(kp, "status", "--json").output)
    assert figures["in_flight"] == 0 and figures["expired_leases"] == 0
    assert figures["outbox_waiting"] == 0  # the demo's worker sent everything
    assert figures["late_p50_seconds"] is not None  # the demo sent interim updates
    text = run(kp, "status").output
    assert "updates due: " in text and "late p99 seconds: " in text


def test_case_commands_explain_bad_input(kp: CliRunner) -> None:
    dup = kp.invoke(
        main, ["case", "new", "--subject", "A", "--phone", "+12125550100", "--ref", "R"]
    )
    again = kp.invoke(
        main, ["case", "new", "--subject", "B", "--phone", "+12125550100", "--ref", "R"]
    )
    assert dup.exit_code == 0 and again.exit_code == 2
    assert "a case with ref 'R' already exists" in again.output
    bad_phone = kp.invoke(main, ["case", "new", "--subject", "A", "--phone", "12"])
    assert bad_phone.exit_code == 2 and "not a possible phone number" in bad_phone.output
    missing = kp.invoke(main, ["case", "show", "999"])
    assert missing.exit_code == 2 and "case #999 does not exist" in missing.output
    closed = kp.invoke(main, ["case", "resolve", "1", "again"])
    assert closed.exit_code == 0
    twice = kp.invoke(main, ["case", "resolve", "1", "again"])
    assert twice.exit_code == 2 and "cannot be resolved" in twice.output


def test_log_export_to_a_file_shows_progress_and_is_audited(kp: CliRunner, tmp_path: Path) -> None:
    run(kp, "demo", "--history-days", "0")
    target = tmp_path / "log.csv"
    result = run(kp, "log", "export", "--format", "csv", "--output", str(target))
    assert "exporting" in result.output and "wrote 20 entries" in result.output
    assert target.read_text().splitlines()[0].startswith("seq,case_id,at,event")
    assert len(target.read_text().splitlines()) == 21


def test_a_second_worker_on_sqlite_refuses_to_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    first, second = WorkerLock(url), WorkerLock(url)
    first.acquire()
    try:
        with pytest.raises(WorkerAlreadyRunning, match="SQLite supports one worker"):
            second.acquire()
    finally:
        first.release()
    second.acquire()  # free again once the first one stopped
    second.release()


@pytest.mark.slow
def test_the_worker_command_refuses_when_one_is_running(tmp_path: Path) -> None:
    """The real `keepposted worker` process, started while another holds the lock."""
    db = tmp_path / "w.db"
    env = {"DATABASE_URL": f"sqlite:///{db}", "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    lock = WorkerLock(env["DATABASE_URL"])
    lock.acquire()
    try:
        refused = subprocess.run(
            [sys.executable, "-m", "bot", "worker"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        lock.release()
    assert refused.returncode == 2
    assert "SQLite supports one worker" in refused.stderr


@pytest.mark.slow
def test_serve_runs_the_app_under_gunicorn(tmp_path: Path) -> None:
    """`keepposted serve` answers /healthz and the API with the real gunicorn."""
    import json
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
        "API_TOKEN": "tok",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(ROOT / "config.yaml"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The master binds before it forks, so once it says so, connections wait in the backlog.
        read_until(server.stderr, "Listening at")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as response:
            assert json.load(response) == {"ok": True, "database": "ok", "templates": "ok"}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/cases", headers={"Authorization": "Bearer tok"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.load(response) == {"cases": []}
    finally:
        server.terminate()
        server.communicate(timeout=30)
