"""The Dockerfile and compose.yaml, read (not built: that needs a Docker daemon).

The image must run what an installed wheel runs: the final stage installs wheels made by the
build stage and never copies the source tree in. compose.yaml must name the four services with
commands the real `keepposted` command line accepts.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]


def dockerfile_stages(text: str) -> list[Stage]:
    """The Dockerfile's stages, with continuation lines joined and global ARG defaults applied."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    defaults: dict[str, str] = {}
    stages: list[Stage] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        keyword, _, args = line.strip().partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "ARG" and not stages:
            name, _, value = args.partition("=")
            defaults[name] = value
        elif keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: defaults[m[1] or m[2]], args)
            parts = [part for part in image.split() if not part.startswith("--")]
            alias = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], alias))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, args))
    return stages


def exec_form(args: str) -> list[str]:
    """CMD/ENTRYPOINT arguments as a list (JSON form, or shell words)."""
    words = yaml.safe_load(args) if args.startswith("[") else shlex.split(args)
    assert isinstance(words, list)
    return [str(word) for word in words]


def accepted_by_the_cli(argv: list[str]) -> None:
    """`keepposted <argv> --help` exits 0: the subcommand and its options exist."""
    assert argv[0] == "keepposted", argv
    done = CliRunner().invoke(main, [*argv[1:], "--help"])
    assert done.exit_code == 0, f"`{shlex.join(argv)}` is not a keepposted command:\n{done.output}"


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return dockerfile_stages((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_build_stage_makes_the_wheel(stages: list[Stage]) -> None:
    assert len(stages) >= 2, "a build stage and a final stage"
    build = stages[0]
    assert build.name, "the build stage is named, so the final stage can take its wheels"
    assert any(re.search(r"\bpip\s+wheel\b", run) for run in build.all("RUN")), build.all("RUN")


def test_the_final_image_installs_only_wheels(stages: list[Stage]) -> None:
    final, build = stages[-1], stages[0]
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", final.base), final.base
    # Nothing from the build context: no COPY/ADD of the source, only of another stage's files.
    for keyword in ("COPY", "ADD"):
        for args in final.all(keyword):
            assert "--from=" in args, f"the final stage copies the source tree: {keyword} {args}"
    installs = [run for run in final.all("RUN") if re.search(r"\bpip\s+install\b", run)]
    assert installs, "the final stage installs the wheel"
    for run in installs:
        assert not re.search(r"pip\s+install\b[^&;]*\s(-e|--editable|\.)(\s|$)", run), run
        from_wheels = "--no-index" in run and (
            f"from={build.name}" in run or re.search(r"\.whl\b", run)
        )
        assert from_wheels, f"not installed from the build stage's wheels only: {run}"


def test_the_final_image_serves_as_a_non_root_user_with_a_health_check(
    stages: list[Stage],
) -> None:
    final = stages[-1]
    users = final.all("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert "8000" in " ".join(final.all("EXPOSE")).split()
    [healthcheck] = final.all("HEALTHCHECK")
    assert "urllib" in healthcheck and "/healthz" in healthcheck, healthcheck
    assert not re.search(r"\b(curl|wget)\b", healthcheck), "slim images have neither"
    [cmd] = final.all("CMD")
    argv = exec_form(cmd)
    assert argv[:2] == ["keepposted", "serve"], argv
    assert "8000" in argv, argv
    accepted_by_the_cli(argv)


def test_the_docker_context_leaves_out_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    for pattern in (".git", ".venv", "**/*.db", ".env", "**/__pycache__"):
        assert pattern in ignored, f".dockerignore lacks {pattern}"


def test_compose_runs_web_worker_release_and_postgres(compose: dict[str, Any]) -> None:
    services: dict[str, dict[str, Any]] = compose["services"]
    assert set(services) == {"web", "worker", "release", "db"}
    commands = {
        "web": ["keepposted", "serve"],
        "worker": ["keepposted", "worker"],
        "release": ["keepposted", "db", "upgrade"],
    }
    images = set()
    for name, start in commands.items():
        service = services[name]
        command = service["command"]
        argv = command if isinstance(command, list) else shlex.split(command)
        assert argv[: len(start)] == start, (name, argv)
        accepted_by_the_cli(argv)
        images.add((service.get("image"), str(service.get("build"))))
        url = service["environment"]["DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://") and "@db:" in url, (name, url)
        assert service.get("env_file"), f"{name} takes its secrets from an env file"
    assert len(images) == 1, f"web, worker and release run one image: {images}"

    for name in ("web", "worker"):
        needs = services[name]["depends_on"]
        assert needs["release"]["condition"] == "service_completed_successfully", name
    assert services["release"].get("restart") in ("no", None)

    db = services["db"]
    assert db["image"] == "postgres:15"
    assert db["healthcheck"]["test"], "db has a health check"
    assert any(str(volume).endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert services["release"]["depends_on"]["db"]["condition"] == "service_healthy"
