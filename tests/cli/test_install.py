"""What a new installation meets: keepposted init, template overrides (a folder and config.yaml,
misspellings refused), /healthz as a readiness check, commands that refuse to start on an
unmigrated database or broken templates, and the demo's banner."""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.app import create_app
from bot.cli import main
from bot.clock import FrozenClock
from bot.config import Config, Settings, load_config, parse_config
from bot.core import create_core
from bot.errors import ConfigError
from bot.ops.readiness import NotReady, head_revision, require_schema
from bot.render import Templates
from bot.resources import starter_file, templates_root
from bot.store.migrate import upgrade
from tests.conftest import START
from tests.support.processes import read_until

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = {"case": {"label": "#7", "status": "open", "subject": "Router"}}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- keepposted init ---------------------------------------------------------------------------


def test_init_writes_a_commented_config_and_an_env_example(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    config = tmp_path / "site" / "config.yaml"
    assert config.read_text() == starter_file("config.yaml").read_text()
    assert "# How often an open case's customer hears from us" in config.read_text()
    assert load_config(config).public_url == "https://support.example.com"
    env = (tmp_path / "site" / ".env.example").read_text()
    assert "SECRET_KEY=" in env and "DATABASE_URL=" in env
    assert not (tmp_path / "site" / "templates").exists()


def test_init_refuses_to_overwrite_and_then_writes_nothing(tmp_path: Path) -> None:
    write(tmp_path / "config.yaml", "timezone: UTC\n")
    result = CliRunner().invoke(main, ["init", str(tmp_path), "--templates"])
    assert result.exit_code == 2
    assert "not overwriting" in result.output and "config.yaml" in result.output
    assert (tmp_path / "config.yaml").read_text() == "timezone: UTC\n"
    assert not (tmp_path / ".env.example").exists() and not (tmp_path / "templates").exists()


def test_init_with_templates_copies_every_template_and_uses_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEEPPOSTED_TEMPLATES", raising=False)
    assert CliRunner().invoke(main, ["init", str(tmp_path), "--templates"]).exit_code == 0
    packaged = sorted(p.relative_to(templates_root()) for p in templates_root().glob("*/*.j2"))
    copied = sorted(p.relative_to(tmp_path / "templates") for p in tmp_path.glob("templates/*/*"))
    assert copied == packaged and len(copied) > 50
    write(tmp_path / "templates" / "sms" / "interim.txt.j2", "Ours: {{ case.label }}")
    config = load_config(tmp_path / "config.yaml")
    assert config.templates_dir == str((tmp_path / "templates").resolve())
    checked = CliRunner().invoke(
        main, ["--config", str(tmp_path / "config.yaml"), "config", "check"]
    )
    assert checked.exit_code == 0, checked.output
    assert "Ours: #1042" in checked.output


def test_the_env_example_names_every_variable_the_product_reads() -> None:
    listed = set(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", starter_file("env.example").read_text(), re.M)
    )
    read = {name.upper() for name in Settings.__dataclass_fields__}
    for folder in ("bot", "channels", "flows"):
        for source in (ROOT / folder).rglob("*.py"):
            read |= set(re.findall(r'environ\.get\(\s*"([A-Z0-9_]+)"', source.read_text()))
    procfile = (ROOT / "Procfile").read_text()
    read |= set(re.findall(r"\$\{([A-Z_]+)", procfile))
    assert read - listed == set()


# -- template overrides ------------------------------------------------------------------------


def test_a_folder_of_templates_wins_file_by_file(tmp_path: Path) -> None:
    write(tmp_path / "sms" / "interim.txt.j2", "Ours: {{ case.label }}")
    templates = Templates(Config(templates_dir=str(tmp_path)))
    assert templates.render("sms", "interim", SAMPLE) == "Ours: #7"
    packaged = Templates(Config()).render("sms", "help", parse_sample())
    assert templates.render("sms", "help", parse_sample()) == packaged  # others stay packaged


def parse_sample() -> dict[str, object]:
    from bot.ops.config_check import sample_context

    return sample_context(Config())


def test_keepposted_templates_wins_over_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "env" / "sms" / "interim.txt.j2", "From the environment")
    write(tmp_path / "file" / "sms" / "interim.txt.j2", "From the file")
    config_file = write(tmp_path / "config.yaml", "templates_dir: file\n")
    assert Templates(load_config(config_file)).render("sms", "interim", SAMPLE) == "From the file"
    monkeypatch.setenv("KEEPPOSTED_TEMPLATES", str(tmp_path / "env"))
    chosen = Templates(load_config(config_file)).render("sms", "interim", SAMPLE)
    assert chosen == "From the environment"


def test_a_templates_dir_that_is_not_a_folder_is_a_config_error(tmp_path: Path) -> None:
    config_file = write(tmp_path / "config.yaml", "templates_dir: nowhere\n")
    with pytest.raises(ConfigError, match=r"templates_dir: .*nowhere is not a folder"):
        load_config(config_file)


@pytest.mark.parametrize(
    ("templates", "expected"),
    [
        ({"sms": {"intrim": "x"}}, r"templates\.sms\.intrim: unknown template \(known: .*interim"),
        ({"smss": {"interim": "x"}}, r"templates\.smss: unknown channel 'smss' \(known: .*sms"),
        ({"webchat": {"confirm_thank": "x"}}, r"templates\.webchat\.confirm_thank: unknown"),
    ],
)
def test_a_misspelt_override_in_config_is_an_error_naming_the_known_names(
    templates: dict[str, dict[str, str]], expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        Templates(parse_config({"templates": templates}))


def test_overrides_that_exist_somewhere_are_accepted() -> None:
    """A channel may reword an SMS text it has no file of, and a configured waiting reason
    has a delay notice of its own."""
    config = parse_config(
        {
            "waiting_reasons": {"parts_on_order": {"label": "a part"}},
            "templates": {
                "slack": {"interim": "Update on {{ case.label }}"},
                "sms": {"delay_parts_on_order": "Waiting for a part."},
            },
        }
    )
    assert Templates(config).render("slack", "interim", SAMPLE) == "Update on #7"


def test_a_misspelt_file_in_the_override_folder_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "sms" / "intrim.txt.j2", "Hello")
    with pytest.raises(ConfigError, match=r"sms\.intrim: unknown template"):
        Templates(Config(templates_dir=str(tmp_path)))


# -- readiness -------------------------------------------------------------------------------


def readiness(database_url: str, config: Config) -> tuple[int, dict[str, object]]:
    core = create_core(config, Settings(database_url=database_url), clock=FrozenClock(START))
    try:
        response = create_app(core=core).test_client().get("/healthz")
        return response.status_code, response.get_json()
    finally:
        core.engine.dispose()


def test_healthz_is_ready_on_a_migrated_database_whose_templates_render(database_url: str) -> None:
    assert readiness(database_url, Config()) == (
        200,
        {"ok": True, "database": "ok", "templates": "ok"},
    )


def test_healthz_is_503_on_a_database_behind_the_newest_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0006")
    status, body = readiness(url, Config())
    assert status == 503 and body["ok"] is False
    assert "is at migration 0006" in str(body["database"]) and "keepposted db upgrade" in str(
        body["database"]
    )


def test_healthz_is_503_naming_a_template_that_does_not_render(database_url: str) -> None:
    config = parse_config({"templates": {"sms": {"interim": "{{ case.nope.deeper }}"}}})
    status, body = readiness(database_url, config)
    assert status == 503 and body["database"] == "ok"
    problems = body["templates"]
    assert isinstance(problems, list) and any("sms/interim" in p for p in problems)


def test_a_command_on_a_missing_database_says_what_to_run_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("KEEPPOSTED_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["case", "list"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        "error: the database sqlite:///keepposted.db does not exist: run `keepposted db upgrade`"
        " (or set DATABASE_URL to yours)"
    ]
    assert list(tmp_path.iterdir()) == []


def test_require_schema_refuses_a_database_file_without_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    (tmp_path / "empty.db").touch()  # exists, but no schema at all
    core = create_core(Config(), Settings(database_url=url))
    with pytest.raises(NotReady, match=rf"is not set up, not {head_revision()}"):
        require_schema(core.engine)
    core.engine.dispose()


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_serve_and_worker_refuse_templates_that_do_not_render(
    command: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = write(
        tmp_path / "broken.yaml",
        yaml.safe_dump({"templates": {"sms": {"confirm_request": "{{ case.nope.deeper }}"}}}),
    )
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["--config", str(broken), command])
    assert result.exit_code == 2, result.output
    assert "templates do not render: sms/confirm_request" in result.output
    assert "keepposted config check" in result.output


# -- the demo's banner -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.slow
def test_dev_on_another_port_moves_every_link_and_prints_what_a_second_terminal_needs(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "KEEPPOSTED_CONFIG": str(ROOT / "examples" / "demo.yaml"),
    }
    kp = [sys.executable, "-m", "bot"]
    subprocess.run([*kp, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run(
        [*kp, "demo", "--history-days", "0"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    server = subprocess.Popen(
        [*kp, "dev", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = read_until(server.stdout, "Running on")
        text = "".join(banner)
        assert f"http://127.0.0.1:{port}/admin" in text, text
        assert ":8000" not in text
        export = next(line.strip() for line in banner if line.strip().startswith("export "))
        given = dict(item.split("=", 1) for item in shlex.split(export)[1:])
        assert given["KEEPPOSTED_PUBLIC_URL"] == f"http://127.0.0.1:{port}"
        assert {"SECRET_KEY", "API_TOKEN", "ADMIN_TOKEN", "TWILIO_AUTH_TOKEN"} <= set(given)
        assert f"SECRET_KEY={given['SECRET_KEY']}" in text  # shown, not only in the export
        link = subprocess.run(
            [*kp, "case", "link", "1"],
            env=env | given,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert link.startswith(f"http://127.0.0.1:{port}/c/")
        with urllib.request.urlopen(link.split()[0], timeout=30) as page:
            assert page.status == 200
    finally:
        server.terminate()
        server.communicate(timeout=30)
