"""One owner for case transitions: conversation handlers decide, bot/engine/actions.py applies.

A handler returns the status the case moves to (None: no change); the move is applied once,
by bot/engine/actions.py, before the answers the handler asked for are queued.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient

from bot.core import Core
from bot.domain import CaseStatus
from bot.errors import InvalidTransition
from bot.store.models import Case
from flows import confirmation
from flows.confirmation import CONVERSATION, Handler, Turn
from flows.intents import Intent, Reading
from tests.conftest import Customer, case_of, log_events, resolved_case
from tests.support.fakes import FakeChannel

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+12125550101"
BEFORE_THE_ANSWER = ["case_opened", "resolution_proposed", "confirmation_requested"]


@pytest.fixture
def maria(core: Core, channels: dict[str, FakeChannel]) -> Customer:
    return Customer(core, channels, PHONE)


@pytest.fixture
def handler_for_status(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Put a handler of the test's own on STATUS for a resolved case."""

    def install(handler: Handler) -> None:
        monkeypatch.setitem(CONVERSATION.states[CaseStatus.RESOLVED], Intent.STATUS, handler)

    yield install


# -- the one writer --------------------------------------------------------------------------


def _status_writes(path: Path) -> list[int]:
    """Lines in one source file that assign a case's status: `<...>case.status = ...` (also in a
    tuple or augmented assignment) or `Case(..., status=...)`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for element in target.elts if isinstance(target, ast.Tuple) else [target]:
                if (
                    isinstance(element, ast.Attribute)
                    and element.attr == "status"
                    and ast.unparse(element.value).lower().endswith("case")
                ):
                    lines.append(element.lineno)
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func).split(".")[-1] == "Case"
            and any(keyword.arg == "status" for keyword in node.keywords)
        ):
            lines.append(node.lineno)
    return lines


def test_only_bot_actions_writes_a_case_status() -> None:
    writers = {
        str(path.relative_to(ROOT))
        for package in ("bot", "flows", "channels")
        for path in (ROOT / package).rglob("*.py")
        if _status_writes(path)
    }
    assert writers == {"bot/engine/actions.py"}


# -- handlers decide -------------------------------------------------------------------------


class Requests:
    """TurnActions that only write down what a handler asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def reply(self, template: str, *, to_opted_out: bool = False, **extra: Any) -> None:
        self.asked.append(f"reply {template}")

    def tell_status(self, case: Case) -> None:
        self.asked.append("reply status")  # the status template, with the other open cases

    def ask_csat(self, case: Case) -> None:
        self.asked.append("ask_csat")

    def record_csat(self, case: Case, score: int) -> None:
        self.asked.append(f"record_csat {score}")

    def opt(self, out: bool) -> None:
        self.asked.append(f"opt out={out}")

    def flag_unclear(self, case: Case) -> None:
        self.asked.append("flag_unclear")


def turn_on(core: Core, status: CaseStatus, intent: Intent, requests: Requests) -> Turn:
    case: Any = SimpleNamespace(status=status, clarified_in=None, closed_at=None)
    message: Any = SimpleNamespace(channel="sms", media_count=0, body="yes")
    return Turn(
        case=case,
        contact=SimpleNamespace(),  # type: ignore[arg-type]
        message=message,
        reading=Reading(intent),
        now=core.clock.now(),
        config=core.config,
        actions=requests,
    )


@pytest.mark.parametrize("csat", [True, False])
def test_the_confirm_handler_decides_closed_and_asks_for_csat_when_config_says(
    core: Core, csat: bool
) -> None:
    confirmation_config = core.config.confirmation
    core.config = core.config.model_copy(
        update={
            "confirmation": confirmation_config.model_copy(
                update={"csat": confirmation_config.csat.model_copy(update={"enabled": csat})}
            )
        }
    )
    requests = Requests()
    turn = turn_on(core, CaseStatus.RESOLVED, Intent.CONFIRM, requests)
    assert confirmation.confirm(turn) == CaseStatus.CLOSED
    assert turn.case is not None and turn.case.status == CaseStatus.RESOLVED  # decided, not done
    assert requests.asked == ["reply confirm_thanks"] + (["ask_csat"] if csat else [])


@pytest.mark.parametrize(
    ("status", "intent", "decided"),
    [
        (CaseStatus.RESOLVED, Intent.CONFIRM, CaseStatus.CLOSED),
        (CaseStatus.RESOLVED, Intent.REOPEN, CaseStatus.OPEN),
        (CaseStatus.RESOLVED, Intent.STATUS, None),
        (CaseStatus.RESOLVED, Intent.UNCLEAR, None),
        (CaseStatus.CLOSED, Intent.CONFIRM, None),
        (CaseStatus.OPEN, Intent.STATUS, None),
        (CaseStatus.WAITING, Intent.OPT_OUT, None),
        (CaseStatus.OPEN, Intent.HELP, None),
    ],
)
def test_each_handler_returns_its_decision_and_changes_no_status(
    core: Core, status: CaseStatus, intent: Intent, decided: CaseStatus | None
) -> None:
    turn = turn_on(core, status, intent, Requests())
    assert CONVERSATION.handler_for(intent, status)(turn) == decided
    assert turn.case is not None and turn.case.status == status


# -- bot/engine/inbound.py applies -----------------------------------------------------------------


def test_a_handler_that_returns_none_leaves_the_status_alone(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    maria: Customer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def say_status_only(turn: Turn) -> CaseStatus | None:
        turn.actions.reply("status")
        return None

    monkeypatch.setitem(CONVERSATION.states[CaseStatus.RESOLVED], Intent.CONFIRM, say_status_only)
    case_id = resolved_case(client, auth)
    maria.inbox()
    maria.says("YES")
    assert case_of(core, case_id).status == CaseStatus.RESOLVED
    assert log_events(core, case_id) == [*BEFORE_THE_ANSWER, "customer_message"]
    assert ["should be fixed" in body for body in maria.inbox()] == [True]


def test_what_the_handler_returns_is_what_is_applied_before_its_answers(
    client: FlaskClient, auth: dict[str, str], core: Core, maria: Customer, handler_for_status: Any
) -> None:
    def close_on_status(turn: Turn) -> CaseStatus | None:
        turn.actions.reply("status")  # queued after the move: it tells the case is closed
        return CaseStatus.CLOSED

    handler_for_status(close_on_status)
    case_id = resolved_case(client, auth)
    maria.inbox()
    maria.says("STATUS")
    case = case_of(core, case_id)
    assert (case.status, case.close_reason, case.csat_requested_at) == ("closed", "confirmed", None)
    assert log_events(core, case_id) == [*BEFORE_THE_ANSWER, "customer_message", "confirmed"]
    assert ["is closed" in body for body in maria.inbox()] == [True]


def test_a_reopen_decision_is_applied_with_its_log_and_alert(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    maria: Customer,
    handler_for_status: Any,
    channels: dict[str, FakeChannel],
) -> None:
    handler_for_status(lambda turn: CaseStatus.OPEN)
    case_id = resolved_case(client, auth)
    maria.inbox()
    maria.says("STATUS")
    case = case_of(core, case_id)
    assert (case.status, case.reopen_count) == ("open", 1)
    assert log_events(core, case_id) == [
        *BEFORE_THE_ANSWER,
        "customer_message",
        "reopen_requested",
        "reopened",
    ]
    assert maria.inbox() == []  # the handler asked for no answer
    alerts = channels["slack"].bodies_to("#alerts")
    assert any("reopened by the customer" in body for body in alerts)


def test_returning_the_status_the_case_is_in_changes_nothing(
    client: FlaskClient, auth: dict[str, str], core: Core, maria: Customer, handler_for_status: Any
) -> None:
    handler_for_status(lambda turn: CaseStatus.RESOLVED)
    case_id = resolved_case(client, auth)
    maria.inbox()  # the confirmation request went out
    maria.says("STATUS")
    assert case_of(core, case_id).status == CaseStatus.RESOLVED
    assert log_events(core, case_id) == [*BEFORE_THE_ANSWER, "customer_message"]


def test_a_move_that_is_not_the_customers_is_refused_and_changes_nothing(
    client: FlaskClient, auth: dict[str, str], core: Core, maria: Customer, handler_for_status: Any
) -> None:
    handler_for_status(lambda turn: CaseStatus.WAITING)
    case_id = resolved_case(client, auth)
    maria.inbox()  # the confirmation request went out
    with pytest.raises(InvalidTransition, match="cannot be moved to waiting by the customer"):
        maria.says("STATUS")
    assert case_of(core, case_id).status == CaseStatus.RESOLVED
    assert log_events(core, case_id) == BEFORE_THE_ANSWER


def test_without_csat_yes_closes_and_asks_for_no_score(
    client: FlaskClient, auth: dict[str, str], core: Core, maria: Customer
) -> None:
    confirmation_config = core.config.confirmation
    core.config = core.config.model_copy(
        update={
            "confirmation": confirmation_config.model_copy(
                update={"csat": confirmation_config.csat.model_copy(update={"enabled": False})}
            )
        }
    )
    case_id = resolved_case(client, auth)
    maria.inbox()
    maria.says("YES")
    case = case_of(core, case_id)
    assert (case.status, case.csat_requested_at) == ("closed", None)
    answers = maria.inbox()
    assert len(answers) == 1 and "Thank you for confirming" in answers[0]
    assert log_events(core, case_id) == [*BEFORE_THE_ANSWER, "customer_message", "confirmed"]
