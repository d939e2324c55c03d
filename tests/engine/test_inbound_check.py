"""One check at the engine's door: a message holding what no database can store (NUL, other
control characters, half of a surrogate pair) is refused with InvalidInput, saying what was
wrong, before anything is stored, whichever channel it comes from and whichever way in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.core import Core
from bot.engine.inbound import InboundResult, accept_inbound, answer_or_keep, handle_inbound
from bot.errors import InvalidInput
from bot.store.models import Message
from channels.base import InboundMessage
from channels.catalog import channel_names

EntryPoint = Callable[[Core, InboundMessage], InboundResult]
ENTRY_POINTS: dict[str, EntryPoint] = {
    "accept_inbound": accept_inbound,
    "handle_inbound": handle_inbound,
    "answer_or_keep": answer_or_keep,
}
SENDERS = {"sms": "+12125550101", "slack": "U0CUSTOMER1", "webchat": "contact:1"}

BAD_BODIES = [
    ("YES\x00", "U+0000", 3),
    ("\x1b[2Jcleared", "U+001B", 0),
    ("bell\x07", "U+0007", 4),
    ("form\x0cfeed", "U+000C", 4),
    ("still broken \ud83d", "U+D83D", 13),  # a lone half of an emoji's pair
    ("\udfffYES", "U+DFFF", 0),
]


def inbound(channel: str, body: str, **fields: object) -> InboundMessage:
    message = InboundMessage(
        channel=channel,
        sender=SENDERS.get(channel, "someone"),
        body=body,
        provider_id=f"{channel}-1",
        received_at=datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
    )
    return replace(message, **fields)  # type: ignore[arg-type]


def stored(core: Core) -> int:
    with core.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Message)) or 0)


def test_every_built_in_channel_is_covered() -> None:
    assert set(SENDERS) <= set(channel_names())


@pytest.mark.parametrize("channel", sorted(SENDERS))
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize(("body", "named", "position"), BAD_BODIES)
def test_an_unstorable_body_is_refused_before_anything_is_stored(
    core: Core, channel: str, entry: str, body: str, named: str, position: int
) -> None:
    with pytest.raises(InvalidInput) as refused:
        ENTRY_POINTS[entry](core, inbound(channel, body))
    assert refused.value.field == "body"
    assert named in refused.value.message and f"position {position}" in refused.value.message
    assert stored(core) == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"sender": "+1212555\x000101"},
        {"provider_id": "SM\ud800"},
        {"media_urls": ("https://example.com/a.jpg", "https://example.com/\x00")},
    ],
)
def test_the_other_stored_text_fields_are_checked_too(
    core: Core, fields: dict[str, object]
) -> None:
    [name] = fields
    with pytest.raises(InvalidInput, match=name.replace("_urls", r"_urls\[1\]")):
        accept_inbound(core, inbound("sms", "YES", **fields))
    assert stored(core) == 0


@pytest.mark.parametrize("channel", sorted(SENDERS))
def test_tabs_and_line_breaks_are_text(core: Core, channel: str) -> None:
    body = "still broken\r\nline 2:\tno dial tone \u2014 \U0001f44e"
    result = accept_inbound(core, inbound(channel, body))
    assert result.message_id is not None
    with core.sessions() as session:
        assert session.scalar(select(Message.body)) == body
