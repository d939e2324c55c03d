"""What a test needs from the machine: in CI its absence is a broken setup and fails the test;
on a laptop without it the test skips with the reason."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def missing(what: str) -> NoReturn:
    """Stop a test whose part is missing: fail in CI, skip elsewhere."""
    if in_ci():
        pytest.fail(f"{what} (CI must have it)")
    pytest.skip(what)
