"""The product works installed from its wheel, not only from the checkout.

The wheel is built from a copy of the checkout, installed into a fresh virtual environment
outside it, and everything below runs with that environment's `keepposted`, from a directory
that is not the checkout and with nothing of the checkout on the path: the migrations, a web
process (`keepposted serve`, gunicorn), a worker, the REST API, an interim update, a resolution
confirmed by a signed SMS, `keepposted log verify`, the web chat page with its script and
stylesheet, the Procfile's web line and `keepposted init`. The only fake is Twilio's REST API
(tests/support/fake_twilio.py), in this process.

`make test-wheel` runs it. Installing the dependencies takes most of the time; pip runs with
the caller's own settings and cache, and skips byte-compiling (Python compiles on import).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import urljoin

import pytest
import requests
import yaml
from twilio.request_validator import RequestValidator

from tests.support.fake_twilio import FakeTwilio, SentMessage
from tests.support.pg_server import free_port

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[2]
API_TOKEN = "wheel-api-token"
SECRET_KEY = "wheel-secret-key"
CUSTOMER = "+12125550101"
SMS_FROM = "+15005550006"
# Bounded waits: generous for a loaded 2-core machine, short next to a hung process.
START_TIMEOUT = 60.0
STEP_TIMEOUT = 30.0
COMMAND_TIMEOUT = 120.0
PIP_TIMEOUT = 900.0

# Not copied for the build: what a build or a run leaves behind, and what is never source.
TOP_LEVEL_NOT_SOURCE = {".git", ".venv", "venv", "build", "dist", "test-artifacts"}
NOT_SOURCE = shutil.ignore_patterns(
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "*.db",
    "*.db-wal",
    "*.db-shm",
    "*.db.worker.lock",
)


def _not_source(folder: str, names: list[str]) -> set[str]:
    ignored = set(NOT_SOURCE(folder, names))
    if Path(folder).resolve() == ROOT:
        ignored |= TOP_LEVEL_NOT_SOURCE.intersection(names)
    return ignored


def _is_source(path: Path) -> bool:
    """Not a cache, a compiled file or an editor's scratch file."""
    return not (
        "__pycache__" in path.parts
        or path.suffix in {".pyc", ".pyo"}
        or path.name.startswith(".")
        or path.name.endswith("~")
    )


def expected_wheel_files(root: Path) -> dict[str, str]:
    """Every file the wheel must hold, as its path in the wheel -> its path in the checkout.

    The packages ship whole: bot/ (with its static files, the migration template and every
    migration version), channels/, flows/, and templates/, which is bot/templates in the wheel.
    """
    trees = {"bot": "bot", "channels": "channels", "flows": "flows", "templates": "bot/templates"}
    expected: dict[str, str] = {}
    for tree, in_wheel in trees.items():
        for path in sorted((root / tree).rglob("*")):
            if path.is_file() and _is_source(path.relative_to(root)):
                inside = path.relative_to(root / tree).as_posix()
                expected[f"{in_wheel}/{inside}"] = path.relative_to(root).as_posix()
    return expected


# -- processes -----------------------------------------------------------------------------


@dataclass
class Proc:
    """A child process of the installed product, its output (stdout and stderr) in a file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        # Its own session, so stop() reaches gunicorn's workers too, and only them.
        self.popen = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to its whole process group if it is not gone in 15 s."""
        if self.popen is not None:
            if self.popen.poll() is None:
                self.popen.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)  # stray gunicorn workers, if any
            self.popen.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            text = ""
        code = "running" if self.alive else f"exit {self.popen.poll() if self.popen else '-'}"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- {self.name} ({code}): {' '.join(self.argv)} ---\n{tail}"


@dataclass
class Installed:
    """The fresh virtual environment with the wheel installed, and a directory to run in."""

    venv: Path
    workdir: Path
    site_packages: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def base_env(self) -> dict[str, str]:
        """A clean environment: the venv first on PATH, nothing of the checkout, no secrets
        or settings inherited from whoever runs the tests."""
        env = {
            "PATH": f"{self.venv / 'bin'}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin:/bin",
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TMPDIR": str(self.workdir),
            "LOG_FORMAT": "text",
        }
        assert str(ROOT) not in json.dumps(env)
        return env


def run(
    argv: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = COMMAND_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def explain(done: subprocess.CompletedProcess[str]) -> str:
    return (
        f"`{' '.join(str(a) for a in done.args)}` exited {done.returncode}\n"
        f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
    )


# -- the wheel and the install -------------------------------------------------------------


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built once per session from a copy of the checkout's source.

    A copy, because setuptools builds in the source tree: a stale build/ there would be packed
    into the wheel (a file deleted from the tree would still ship) and would litter the checkout.
    """
    source = tmp_path_factory.mktemp("wheel-source") / "keepposted"
    shutil.copytree(ROOT, source, ignore=_not_source, symlinks=True)
    out = tmp_path_factory.mktemp("wheel")
    done = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(source)],
        os.environ | {"PIP_NO_INPUT": "1"},
        source,
        timeout=PIP_TIMEOUT,
    )
    assert done.returncode == 0, explain(done)
    [built] = out.glob("keepposted-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Installed:
    """A fresh venv outside the checkout with the wheel and its dependencies from the index."""
    base = tmp_path_factory.mktemp("installed")
    assert not base.resolve().is_relative_to(ROOT), f"{base} is inside the checkout"
    venv, workdir = base / "venv", base / "run"
    workdir.mkdir()
    # The base interpreter, not this test venv's: nothing of the dev install comes along.
    done = run([sys.executable, "-m", "venv", str(venv)], _pip_env(), base)
    assert done.returncode == 0, explain(done)
    done = run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            str(wheel),
        ],
        _pip_env(),
        base,
        timeout=PIP_TIMEOUT,
    )
    assert done.returncode == 0, explain(done)
    done = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        _pip_env(),
        workdir,
    )
    assert done.returncode == 0, explain(done)
    return Installed(venv, workdir, Path(done.stdout.strip()).resolve())


def _pip_env() -> dict[str, str]:
    """This process's environment (pip's index settings and cache included) without anything
    that would put the checkout or this test venv on the new venv's path."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONUSERBASE"}
    env = {name: value for name, value in os.environ.items() if name not in drop}
    env["PIP_NO_INPUT"] = "1"
    return env


def test_the_wheel_holds_every_file_of_the_product(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = expected_wheel_files(ROOT)
    # The groups that are easy to lose: data files setuptools only packs when told to.
    assert any(name.startswith("bot/templates/sms/") for name in expected)
    assert any(name.startswith("bot/web/static/webchat/") for name in expected)
    assert "bot/store/migrations/script.py.mako" in expected
    assert any(PurePosixPath(n).match("bot/store/migrations/versions/0001_*.py") for n in expected)
    missing = sorted(
        checkout if checkout == name else f"{checkout} (in the wheel: {name})"
        for name, checkout in expected.items()
        if name not in names
    )
    assert not missing, f"{wheel.name} lacks {len(missing)} file(s):\n" + "\n".join(missing)


def test_the_installed_package_is_not_the_checkout(installed: Installed) -> None:
    """`import bot` (and friends) in the venv resolve to its site-packages, not the checkout."""
    probe = (
        "import json, bot, bot.templates, bot.store.migrations, channels, flows;"
        "print(json.dumps({m.__name__: m.__file__ for m in"
        " (bot, bot.templates, bot.store.migrations, channels, flows)}))"
    )
    done = run([installed.bin("python"), "-c", probe], installed.base_env(), installed.workdir)
    assert done.returncode == 0, explain(done)
    for module, location in json.loads(done.stdout).items():
        path = Path(location).resolve()
        assert path.is_relative_to(installed.site_packages), f"{module} is {path}"
        assert not path.is_relative_to(ROOT), f"{module} comes from the checkout: {path}"


# -- the running product -------------------------------------------------------------------


@dataclass
class Stack:
    """The installed product running: web and worker processes, the fake Twilio they send to."""

    installed: Installed
    twilio: FakeTwilio
    env: dict[str, str]
    public_url: str
    procs: list[Proc] = field(default_factory=list)

    def logs(self) -> str:
        return "\n".join(proc.log_tail() for proc in self.procs)

    @contextlib.contextmanager
    def explaining(self) -> Iterator[None]:
        """A failure inside prints the processes' output, unless its message carries it."""
        try:
            yield
        except BaseException as failure:
            if not any(f"--- {proc.name} (" in str(failure) for proc in self.procs):
                print(self.logs())
            raise

    def keepposted(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run([self.installed.bin("keepposted"), *args], self.env, self.installed.workdir)

    def start(self, name: str, argv: list[str], **env: str) -> Proc:
        workdir = self.installed.workdir
        proc = Proc(name, argv, self.env | env, workdir, workdir / f"{name}.log")
        self.procs.append(proc)
        proc.start()
        return proc

    def wait_until(self, condition: Callable[[], Any], timeout: float, what: str) -> Any:
        """Poll `condition` until it returns something truthy; fail at once if a process died."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            dead = [proc.name for proc in self.procs if not proc.alive]
            if dead:
                raise AssertionError(
                    f"{', '.join(dead)} exited while waiting for {what}\n{self.logs()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}\n{self.logs()}"
                )
            time.sleep(0.1)

    # -- the REST API, as a CRM would call it --

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        with requests.request(
            method,
            f"{self.public_url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            timeout=10,
        ) as response:
            assert response.status_code in (200, 201), (
                f"{method} {path}: {response.status_code} {response.text}\n{self.logs()}"
            )
            answer: dict[str, Any] = response.json()
            return answer

    def texts_to(self, phone: str) -> list[SentMessage]:
        return [message for message in self.twilio.messages if message.to == phone]


def _answers(url: str) -> bool:
    try:
        with requests.get(url, timeout=2) as response:
            return response.status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def stack(installed: Installed) -> Iterator[Stack]:
    """Migrate, then start `keepposted serve` and `keepposted worker` from the installed wheel;
    stopped (with the fake Twilio) whatever happens."""
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    database = installed.workdir / "keepposted.db"
    config_path = installed.workdir / "config.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "public_url": public_url,
                "timezone": "UTC",
                "quiet_hours": {"enabled": False},
                # The first update a moment after a case opens, the next long after the test.
                "cadences": {"default": {"first_after": "2s", "every": "1h"}},
                "channels": {"sms": {"from": SMS_FROM, "mps": 50}},
                "worker": {"poll_every": "1s", "send_every": "250ms", "retry_backoff": "250ms"},
            }
        )
    )
    with FakeTwilio(auto_status=("sent", "delivered")) as twilio:
        env = installed.base_env() | {
            "DATABASE_URL": f"sqlite:///{database}",
            "KEEPPOSTED_CONFIG": str(config_path),
            "API_TOKEN": API_TOKEN,
            "SECRET_KEY": SECRET_KEY,
            "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": twilio.auth_token,
            "TWILIO_API_BASE_URL": twilio.url,
        }
        running = Stack(installed, twilio, env, public_url)
        try:
            migrated = running.keepposted("db", "upgrade")
            assert migrated.returncode == 0, explain(migrated)
            assert database.exists(), f"`keepposted db upgrade` made no {database}"
            keepposted = installed.bin("keepposted")
            running.start(
                "web",
                [keepposted, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            )
            running.start("worker", [keepposted, "worker"])
            running.wait_until(
                lambda: _answers(f"{public_url}/healthz"),
                START_TIMEOUT,
                "GET /healthz to answer 200",
            )
            yield running
        finally:
            for proc in reversed(running.procs):
                proc.stop()


def _open_case(stack: Stack, subject: str, phone: str) -> int:
    created = stack.api(
        "POST",
        "/cases",
        {"subject": subject, "priority": "P3", "contact": {"name": "Ana Ruiz", "phone": phone}},
    )
    assert created["status"] == "open", created
    return int(created["id"])


def test_a_case_goes_from_open_to_closed_on_the_installed_product(stack: Stack) -> None:
    with stack.explaining():
        _play_a_case_through(stack)


def _play_a_case_through(stack: Stack) -> None:
    case_id = _open_case(stack, "Router keeps dropping", CUSTOMER)

    # The worker renders and sends an interim update through the real twilio client.
    [interim] = stack.wait_until(
        lambda: stack.texts_to(CUSTOMER), STEP_TIMEOUT, "the interim update to reach Twilio"
    )
    assert "Router keeps dropping" in interim.body, interim
    assert interim.from_ == SMS_FROM, interim
    assert interim.status_callback and interim.status_callback.startswith(
        f"{stack.public_url}/sms/status"
    ), interim

    resolved = stack.api(
        "POST", f"/cases/{case_id}/resolve", {"resolution": "Replaced the line card"}
    )
    assert resolved["status"] == "resolved", resolved
    request = stack.wait_until(
        lambda: next(
            (m for m in stack.texts_to(CUSTOMER) if "Replaced the line card" in m.body), None
        ),
        STEP_TIMEOUT,
        "the confirmation request to reach Twilio",
    )
    assert "YES" in request.body, request

    # The customer answers; Twilio posts it, signed with the auth token over public_url + path
    # and the form (a forged signature first: refused with 403).
    form = {
        "MessageSid": "SM" + "a1" * 16,
        "AccountSid": stack.twilio.account_sid,
        "From": CUSTOMER,
        "To": SMS_FROM,
        "Body": "YES",
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
    }
    inbound = f"{stack.public_url}/sms/inbound"
    signature = RequestValidator(stack.twilio.auth_token).compute_signature(inbound, form)
    forged = RequestValidator("not-the-auth-token").compute_signature(inbound, form)
    with requests.post(
        inbound, data=form, headers={"X-Twilio-Signature": forged}, timeout=10
    ) as refused:
        assert refused.status_code == 403, f"a forged signature got {refused.status_code}"
    with requests.post(
        inbound, data=form, headers={"X-Twilio-Signature": signature}, timeout=10
    ) as answered:
        assert answered.status_code == 200, f"{answered.status_code} {answered.text}"

    closed = stack.wait_until(
        lambda: (found := stack.api("GET", f"/cases/{case_id}"))["status"] == "closed" and found,
        STEP_TIMEOUT,
        f"case {case_id} to be closed by the customer's YES",
    )
    assert closed["id"] == case_id
    stack.wait_until(
        lambda: any("Thank you for confirming" in m.body for m in stack.texts_to(CUSTOMER)),
        STEP_TIMEOUT,
        "the thanks to reach Twilio",
    )
    events = [entry["event"] for entry in stack.api("GET", f"/cases/{case_id}/log")["entries"]]
    for event in ("resolution_proposed", "confirmation_requested", "confirmed"):
        assert event in events, events

    verified = stack.keepposted("log", "verify")
    assert verified.returncode == 0, explain(verified)


def test_the_web_chat_page_renders_with_its_script_and_styles(stack: Stack) -> None:
    with stack.explaining():
        _open_the_chat_page(stack)


def _open_the_chat_page(stack: Stack) -> None:
    case_id = _open_case(stack, "No dial tone", "+12125550102")
    linked = stack.keepposted("case", "link", str(case_id))
    assert linked.returncode == 0, explain(linked)
    link = linked.stdout.strip().splitlines()[-1]
    assert link.startswith(f"{stack.public_url}/c/"), linked.stdout

    with requests.get(link, timeout=10) as page:
        assert page.status_code == 200, f"{page.status_code} {page.text[:2000]}\n{stack.logs()}"
        assert page.headers["Content-Type"].startswith("text/html"), page.headers
        html = page.text
    assert "No dial tone" in html
    scripts = re.findall(r'<script[^>]*\ssrc="([^"]+)"', html)
    styles = re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', html)
    assert scripts, f"the chat page has no <script src>:\n{html}"
    assert styles, f"the chat page has no stylesheet:\n{html}"
    for src, kind in [(s, "javascript") for s in scripts] + [(s, "css") for s in styles]:
        url = urljoin(link, src)
        with requests.get(url, timeout=10) as asset:
            assert asset.status_code == 200, f"{url}: {asset.status_code}\n{stack.logs()}"
            assert kind in asset.headers.get("Content-Type", ""), (url, asset.headers)
            assert asset.content.strip(), f"{url} is empty"


def test_the_procfile_web_process_serves_from_the_install(stack: Stack) -> None:
    """The Procfile's `web` line, run as a platform runs it (a shell, $PORT), outside the
    checkout: its gunicorn settings must come from the installed package."""
    [line] = [
        line.partition(":")[2].strip()
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    ]
    command = line.replace("0.0.0.0:", "127.0.0.1:")  # loopback only, in tests
    assert "127.0.0.1:${PORT" in command, f"the Procfile's web line binds elsewhere: {line}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    web = stack.start(
        "procfile-web",
        ["/bin/sh", "-c", f"exec {command}"],
        PORT=str(port),
        WEB_CONCURRENCY="1",
        WEB_THREADS="2",
    )
    try:
        with stack.explaining():
            stack.wait_until(lambda: _answers(f"{url}/healthz"), START_TIMEOUT, f"{url}/healthz")
            with requests.get(f"{url}/widget.js", timeout=10) as widget:
                assert widget.status_code == 200, f"/widget.js: {widget.status_code}"
                assert "javascript" in widget.headers.get("Content-Type", ""), widget.headers
    finally:
        web.stop()
        stack.procs.remove(web)


def test_config_check_renders_every_template_of_the_installed_package(stack: Stack) -> None:
    checked = stack.keepposted("config", "check")
    assert checked.returncode == 0, explain(checked)


def test_keepposted_init_writes_the_starter_files_from_the_install(installed: Installed) -> None:
    """An operator's first step with only the package: `keepposted init --templates`; what it
    writes passes `keepposted config check` as it is."""
    folder = installed.workdir / "starter"
    env = installed.base_env()
    done = run(
        [installed.bin("keepposted"), "init", str(folder), "--templates"], env, installed.workdir
    )
    assert done.returncode == 0, explain(done)
    for name in ("config.yaml", ".env.example"):
        assert (folder / name).is_file(), f"keepposted init wrote no {name}:\n{done.stdout}"
    shipped = {p.relative_to(ROOT / "templates") for p in (ROOT / "templates").rglob("*.j2")}
    written = {p.relative_to(folder / "templates") for p in (folder / "templates").rglob("*.j2")}
    assert shipped <= written, f"keepposted init left out {sorted(map(str, shipped - written))}"
    checked = run(
        [installed.bin("keepposted"), "--config", str(folder / "config.yaml"), "config", "check"],
        env,
        installed.workdir,
    )
    assert checked.returncode == 0, explain(checked)
