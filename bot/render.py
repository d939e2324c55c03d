"""The one place customer-facing text is made: Jinja2 templates under templates/<channel>/.

Text templates render as plain text. A channel without its own template of a name falls back to
the SMS one, so a new channel only adds templates where its wording or format differs. A
contact's message is rendered for its channel by bot/engine/messages.py, through this module.

Every sentence a customer or an agent reads is a template; one situation, one wording:
- templates/sms/, templates/slack/, templates/webchat/: what customers receive on each channel
  (`.txt.j2` text, Slack's `.json.j2` Block Kit). webchat/ also holds the chat page
  (`page.html.j2`), its errors and limits (`problem.txt.j2`, `link_error.txt.j2`), which the
  page hands to chat.js, and slack/answer*.txt.j2 the words of a customer's answer buttons.
- templates/alerts/: what the team's alerts say; templates/agents/: what agents read back in
  Slack (`case_reply.txt.j2`, every `/case` answer; `alert_action.txt.j2`; `case_modal.json.j2`;
  `summary.txt.j2`, the interaction summary QA and the next agent read).
- templates/admin/: the ops pages.
Developers' words (the REST API's JSON errors, logs, CLI output) stay in the code.

Where a template comes from, first match wins: a text given in config.yaml's `templates:`, a
file in the ops' override folder (`templates_dir`, or $KEEPPOSTED_TEMPLATES), the packaged file.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    ChoiceLoader,
    DictLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
)

from bot.config import Config
from bot.errors import ConfigError
from bot.resources import templates_root
from channels.catalog import ChannelName, channel_names

FALLBACK_CHANNEL = ChannelName.SMS
# Files that only other templates include (`{% include "slack/_answer_buttons.json.j2" %}`).
PARTIAL_PREFIX = "_"

# Every template a customer can receive; `keepposted config check` renders each of them.
CUSTOMER_TEMPLATES = (
    "interim",
    "agent_update",
    "delay_notice",
    "eta_missed",
    "confirm_request",
    "confirm_reminder",
    "confirm_thanks",
    "csat_ask",
    "csat_thanks",
    "reopen_ack",
    "reopen_expired",
    "clarify",
    "media_received",
    "which_case",
    "unknown_sender",
    "help",
    "status",
    "opted_out",
    "opted_in",
)


SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def mrkdwn(value: object) -> str:
    """Text made safe for Slack's markup: a customer writing `<!channel>` pings nobody."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user_id: object) -> str:
    """`<@U123>` for a real Slack user id; anything else is shown as escaped text."""
    text = str(user_id or "")
    return f"<@{text}>" if SLACK_USER_ID.match(text) else mrkdwn(text)


def customer_templates(config: Config) -> list[str]:
    """Every template a customer can receive, with one delay notice per waiting reason."""
    delays = [f"delay_{reason}" for reason in config.waiting_reasons]
    return list(CUSTOMER_TEMPLATES) + delays


def format_when(value: datetime | None, timezone: str = "UTC") -> str:
    """A time as a customer reads it, in their own zone: `Tue 24 Nov, 15:00 EST`."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(timezone))
    return local.strftime("%a %d %b, %H:%M ") + (local.tzname() or "")


def template_names(root: Path) -> dict[str, set[str]]:
    """Each folder of `root` with the names of its text and Block Kit templates, partials and
    pages left out: what config.yaml's `templates:` and an override folder may replace."""
    names: dict[str, set[str]] = {}
    for file in sorted(root.glob("*/*.j2")):
        name, _, kind = file.name.partition(".")
        if kind in ("txt.j2", "json.j2") and not name.startswith(PARTIAL_PREFIX):
            names.setdefault(file.parent.name, set()).add(name)
    return names


def check_overrides(config: Config, override_dir: Path | None, packaged: Path) -> None:
    """Refuse a misspelt override (`templates: {sms: {intrim: ...}}`, `{smss: ...}`, or
    `sms/intrim.txt.j2` in the override folder) instead of silently never using it."""
    known = template_names(packaged)
    for channel in channel_names():  # a registered channel may have no wording of its own yet
        known.setdefault(channel, set())
    delays = {f"delay_{reason}" for reason in config.waiting_reasons}
    fallback = known.get(FALLBACK_CHANNEL, set())
    problems: list[str] = []

    def check(where: str, channel: str, names: set[str]) -> None:
        if channel not in known:
            problems.append(f"{where}: unknown channel {channel!r} (known: {', '.join(known)})")
            return
        choices = known[channel] | fallback | delays
        for name in sorted(names - choices):
            problems.append(
                f"{where}.{name}: unknown template (known: {', '.join(sorted(choices))})"
            )

    for channel, names in config.templates.items():
        check(f"templates.{channel}", channel, set(names))
    if override_dir is not None:
        for channel, files in template_names(override_dir).items():
            check(f"templates_dir {override_dir}: {channel}", channel, files)
    if problems:
        raise ConfigError(problems)


class Templates:
    def __init__(self, config: Config, root: Path | None = None) -> None:
        packaged = root or templates_root()
        override_dir = Path(config.templates_dir) if config.templates_dir else None
        check_overrides(config, override_dir, packaged)
        # An ops folder wins over the packaged templates file by file.
        folders = [str(override_dir), str(packaged)] if override_dir else [str(packaged)]
        overrides = {
            f"{channel}/{name}.txt.j2": text
            for channel, names in config.templates.items()
            for name, text in names.items()
        }
        # A waiting reason added in config may carry its notice's wording right there.
        for reason, settings in config.waiting_reasons.items():
            if settings.notice:
                overrides.setdefault(f"{FALLBACK_CHANNEL}/delay_{reason}.txt.j2", settings.notice)
        self.env = Environment(
            loader=ChoiceLoader([DictLoader(overrides), FileSystemLoader(folders)]),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - plain-text SMS and Slack text; web pages escape
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        # Web pages (templates/<channel>/*.html.j2) escape everything they show.
        self.pages = Environment(
            loader=FileSystemLoader(folders),
            undefined=StrictUndefined,
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = format_when
        self.env.filters["mrkdwn"] = mrkdwn
        self.env.filters["mention"] = mention
        self._no_layout: set[str] = set()

    def has(self, channel: str, name: str) -> bool:
        try:
            self.env.get_template(f"{channel}/{name}.txt.j2")
        except TemplateNotFound:
            return False
        return True

    def render(self, channel: str, name: str, context: dict[str, Any]) -> str:
        """Render `name` for `channel` (falling back to SMS wording); whitespace is tidied."""
        source = channel if self.has(channel, name) else FALLBACK_CHANNEL
        text = self.env.get_template(f"{source}/{name}.txt.j2").render(context)
        return "\n".join(line.rstrip() for line in text.strip().splitlines())

    def page(self, channel: str, name: str, context: dict[str, Any]) -> str:
        """An HTML page from `<channel>/<name>.html.j2`; every value is escaped."""
        return self.pages.get_template(f"{channel}/{name}.html.j2").render(context)

    def render_blocks(
        self, channel: str, name: str, context: dict[str, Any]
    ) -> list[dict[str, Any]] | None:
        """Block Kit for `name` from `<channel>/<name>.json.j2`, or None when there is none.

        The template writes a JSON list of blocks; values go in with `| tojson` (and
        `| mrkdwn` first where Slack reads markup), so no text can break the JSON or the layout.
        """
        key = f"{channel}/{name}.json.j2"
        if key in self._no_layout:  # most channels have none: skip the loader's file lookups
            return None
        try:
            template = self.env.get_template(key)
        except TemplateNotFound:
            self._no_layout.add(key)
            return None
        blocks = json.loads(template.render(context))
        if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
            raise ValueError(f"{channel}/{name}.json.j2 must render a JSON list of blocks")
        return blocks
