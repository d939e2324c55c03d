"""config.yaml (behaviour) and the environment (secrets and endpoints), validated into typed models.

A bad file stops start-up with the key path and the problem, never with a traceback.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

import yaml
from babel import Locale, UnknownLocaleError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.domain import PRIORITIES
from bot.durations import format_duration, parse_duration
from bot.errors import ConfigError, shortened
from flows.intents import DEFAULT_KEYWORDS, Keywords, keywords_by_language
from flows.vocabulary import DEFAULT_LANGUAGES
from flows.vocabulary import LISTS as KEYWORD_LISTS

_MILLISECONDS = re.compile(r"^\s*(\d+)\s*ms\s*$")
_ZERO = re.compile(r"^\s*0+\s*[smhdw]?\s*$")
MAX_ZONE_CHARS = 64  # the longest IANA key has 32


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a duration like 30s, 30m, 2h or 3d")
    millis = _MILLISECONDS.match(value)
    if millis and int(millis[1]) > 0:  # worker timings may be under a second, e.g. 500ms
        return timedelta(milliseconds=int(millis[1]))
    return parse_duration(value)


def _duration_or_zero(value: Any) -> timedelta:
    """A duration where 0s (or 0) means "none": a spread that is off."""
    if value == 0 or (isinstance(value, str) and _ZERO.match(value)):
        return timedelta(0)
    return _duration(value)


def _clock_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int):  # YAML reads 21:00 as sexagesimal 1260 (minutes)
        return time(value // 60 % 24, value % 60)
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"expected a time of day like 21:00 (got {value!r})") from None


@functools.cache
def _zone_keys() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(value: str) -> str:
    """An IANA zone key such as America/New_York. ZoneInfo alone opens any file under the zone
    folders, so a folder (`America`, `Etc`) or an over-long name raised OSError, not ValueError:
    only the keys of the time zone database are taken."""
    if len(value) > MAX_ZONE_CHARS or value not in _zone_keys():
        shown = shortened(value)
        raise ValueError(f"unknown IANA time zone {shown!r} (e.g. America/New_York)")
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
DurationOrZero = Annotated[timedelta, BeforeValidator(_duration_or_zero)]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
MAX_LOCALE_CHARS = 16  # contacts.locale's column


def check_locale(value: str) -> str:
    """A locale tag in one spelling (`es_MX`, `ES-mx` -> `es-MX`), so template file names and
    stored contacts match; Babel's CLDR data decides which languages exist."""
    shown = shortened(value)
    problem = ValueError(f"unknown locale {shown!r} (e.g. en, es, es-MX, pt-BR)")
    if not value or len(value) > MAX_LOCALE_CHARS:
        raise problem
    try:
        parsed = Locale.parse(value.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise problem from None
    return "-".join(part for part in (parsed.language, parsed.script, parsed.territory) if part)


LocaleTag = Annotated[str, AfterValidator(check_locale)]


def locale_tags(locale: str) -> list[str]:
    """`zh-Hant-TW` -> zh-Hant-TW, zh-Hant, zh: each step drops the last subtag."""
    parts = locale.split("-")
    return ["-".join(parts[:i]) for i in range(len(parts), 0, -1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cadence(Strict):
    """How often a case's customer hears from us. `first_after` defaults to `every`."""

    every: Duration
    first_after: Duration | None = None

    @property
    def first(self) -> timedelta:
        return self.first_after or self.every


class Cadences(Strict):
    """Each level's cadence; `jitter` is the most a case's fixed offset (flows/interim.py) may
    stretch the interval that starts its cadence, as a share of it, so cases opened together
    do not all fall due at once."""

    default: Cadence = Cadence(every=timedelta(days=1), first_after=timedelta(hours=4))
    priority: dict[str, Cadence] = Field(default_factory=dict)
    category: dict[str, Cadence] = Field(default_factory=dict)
    jitter: float = Field(default=0.1, ge=0, le=0.5)

    @model_validator(mode="after")
    def _known_priorities(self) -> Cadences:
        for name in self.priority:
            if name not in PRIORITIES:
                raise ValueError(f"priority {name!r} is not one of {', '.join(PRIORITIES)}")
        return self

    def for_case(self, priority: str, category: str | None) -> Cadence:
        """Category override, else priority, else default."""
        if category and category in self.category:
            return self.category[category]
        return self.priority.get(priority, self.default)


class QuietHours(Strict):
    """Local hours (in the contact's time zone) in which no SMS is sent. The updates that fell
    due in them leave over `spread` after the end, in the order they were due (0s: all at the
    end)."""

    start: ClockTime = time(21, 0)
    end: ClockTime = time(8, 0)
    enabled: bool = True
    spread: DurationOrZero = timedelta(0)

    @property
    def awake(self) -> timedelta:
        """The time a day outside quiet hours, from their end to their start (the whole day
        when they are off): the same in every zone, as each contact's are in local time."""
        day = timedelta(days=1)
        if not self.enabled or self.start == self.end:
            return day

        def since_midnight(moment: time) -> timedelta:
            return timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second)

        return (since_midnight(self.start) - since_midnight(self.end)) % day

    @property
    def shown(self) -> str:
        """ "21:00-08:00", or "off"."""
        return f"{self.start:%H:%M}-{self.end:%H:%M}" if self.enabled else "off"

    @model_validator(mode="after")
    def _spread_ends_before_the_night(self) -> QuietHours:
        if self.enabled and self.spread >= self.awake:
            raise ValueError(
                f"spread ({format_duration(self.spread)}) must end before quiet hours start "
                f"again: keep it under {format_duration(self.awake)}, the time from end to start"
            )
        return self


class WaitingReason(Strict):
    label: str
    # Optional text of the delay notice; otherwise templates/sms/delay_<reason>.txt.j2 is used.
    notice: str | None = None


def _default_waiting_reasons() -> dict[str, WaitingReason]:
    return {
        "third_party": WaitingReason(label="a partner company"),
        "compliance_check": WaitingReason(label="a compliance check"),
        "investigation": WaitingReason(label="an investigation"),
        "outage": WaitingReason(label="a service outage"),
    }


class Csat(Strict):
    enabled: bool = True
    window: Duration = timedelta(hours=24)
    low_score: int = Field(default=2, ge=1, le=5)


class Confirmation(Strict):
    reminder_after: Duration = timedelta(hours=24)
    auto_close_after: Duration = timedelta(hours=72)
    reopen_window: Duration = timedelta(days=7)
    csat: Csat = Csat()
    # Tell the customer when a case closes without their answer (auto-close, an agent's close),
    # and how to reopen it (templates <channel>/case_closed).
    closing_message: bool = True

    @model_validator(mode="after")
    def _reminder_before_close(self) -> Confirmation:
        if self.reminder_after >= self.auto_close_after:
            raise ValueError("reminder_after must be shorter than auto_close_after")
        return self


class LanguageKeywordLists(Strict):
    """One language's lists (`keywords: {es: {confirm: [...]}}`): each replaces that language's
    built-in list of the same name; the lists not given keep the built-in words."""

    confirm: list[str] | None = None
    reopen: list[str] | None = None
    status: list[str] | None = None
    help: list[str] | None = None
    opt_out: list[str] | None = None
    opt_in: list[str] | None = None


class KeywordLists(Strict):
    """Each flat list given here replaces the default list of the same name in every language;
    a language given (en, es, fr, pt) replaces that language's lists only. Replies are read in
    every language at once either way; the languages say which one a reply is in."""

    confirm: list[str] = list(DEFAULT_KEYWORDS.confirm)
    reopen: list[str] = list(DEFAULT_KEYWORDS.reopen)
    status: list[str] = list(DEFAULT_KEYWORDS.status)
    help: list[str] = list(DEFAULT_KEYWORDS.help)
    opt_out: list[str] = list(DEFAULT_KEYWORDS.opt_out)
    opt_in: list[str] = list(DEFAULT_KEYWORDS.opt_in)
    en: LanguageKeywordLists | None = None
    es: LanguageKeywordLists | None = None
    fr: LanguageKeywordLists | None = None
    pt: LanguageKeywordLists | None = None

    @model_validator(mode="after")
    def _one_form_per_list(self) -> KeywordLists:
        # A flat list replaces the list in every language, so a language's list beside it
        # would never be read.
        for lang, given in self._languages_given().items():
            for name in KEYWORD_LISTS:
                if name in self.model_fields_set and getattr(given, name) is not None:
                    raise ValueError(
                        f"{name} is given as a flat list and under {lang}: give it one way"
                    )
        return self

    def _languages_given(self) -> dict[str, LanguageKeywordLists]:
        given = {lang: getattr(self, lang) for lang in DEFAULT_LANGUAGES}
        return {lang: lists for lang, lists in given.items() if lists is not None}

    def to_keywords(self) -> Keywords:
        given = self._languages_given()
        languages = {
            lang: {
                **defaults,
                **(given[lang].model_dump(exclude_none=True) if lang in given else {}),
            }
            for lang, defaults in DEFAULT_LANGUAGES.items()
        }
        flat = {
            name: getattr(self, name) for name in KEYWORD_LISTS if name in self.model_fields_set
        }
        return keywords_by_language(languages, flat=flat)


def _one_or_many(value: Any) -> Any:
    """`from: "+1555..."` or a list of numbers: a pool of one is the plain case (and none,
    e.g. beside a messaging service, an empty pool)."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


class SmsSettings(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # The sender pool: one number or several, each paced at `mps`; a contact always hears
    # from the same one (channels/sms.py, `sender_for`).
    from_numbers: Annotated[list[str], BeforeValidator(_one_or_many)] = Field(
        default_factory=list, alias="from", max_length=1000
    )
    # A messaging service picks the number itself; `mps` is then the whole service's rate.
    messaging_service_sid: str | None = None
    max_segments: int = Field(default=3, ge=1, le=10)
    # An agent's text that would make the customer's SMS longer than max_segments: refused
    # with a 422 (`refuse`), or cut at a word and ended with the case's chat link (`link`).
    long_text: Literal["refuse", "link"] = "refuse"
    mps: float = Field(default=1.0, gt=0)  # message segments per second per sender

    @property
    def pool(self) -> tuple[str, ...]:
        """The senders that share the load, each paced at `mps`: the messaging service as
        one, else every `from` number (none: nothing is sent through Twilio)."""
        if self.messaging_service_sid:
            return (self.messaging_service_sid,)
        return tuple(dict.fromkeys(self.from_numbers))

    @property
    def capacity(self) -> float:
        """Segments a second the whole pool can send."""
        return self.mps * len(self.pool)

    # An interim update still queued at Twilio after this is dropped rather than sent stale.
    interim_validity: Duration = Field(
        default=timedelta(hours=1), ge=timedelta(seconds=1), le=timedelta(hours=10)
    )
    # True when Twilio's Advanced Opt-Out already answers STOP/START, so we must not answer twice.
    advanced_opt_out: bool = False
    # True: letters GSM-7 lacks are written without their accent (á -> a) when every other
    # character is GSM-7, so a text stays in 160-character segments instead of UCS-2's 70.
    transliterate: bool = False


class SlackSettings(Strict):
    alerts_channel: str | None = None  # a channel id (C0123...) or #name the app is in
    agents: list[str] = Field(default_factory=list)  # Slack user ids allowed to use /case
    supervisors: list[str] = Field(default_factory=list)  # ... and to close and reopen by hand
    mps: float = Field(default=1.0, gt=0)  # posts per second per conversation (Slack: about 1)


def check_origin(value: str) -> str:
    """`https://www.example.com`: a scheme and a host (and port), nothing after them."""
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", value):
        raise ValueError(f"{value!r} is not an origin such as https://www.example.com")
    return value


class WebchatSettings(Strict):
    link_ttl: Duration = Field(default=timedelta(days=30), ge=timedelta(minutes=1))
    max_chars: int = Field(default=2000, ge=1, le=20_000)  # longest reply a customer may post
    posts_per_minute: int = Field(default=10, ge=1, le=600)  # per link, across web processes
    # Sites allowed to show the chat in the widget's frame (CSP frame-ancestors), besides ours.
    embed_origins: list[Annotated[str, AfterValidator(check_origin)]] = Field(default_factory=list)


class Channels(Strict):
    sms: SmsSettings = SmsSettings()
    slack: SlackSettings = SlackSettings()
    webchat: WebchatSettings = WebchatSettings()


class SentimentSettings(Strict):
    # A customer message scoring at or below this (VADER, -1 to +1) alerts a supervisor.
    alert_below: float = Field(default=-0.6, ge=-1.0, le=0.0)


class AlertSettings(Strict):
    # A customer message within this of a case's last alert updates that alert in Slack
    # instead of raising a new one, so a burst of messages is one alert.
    coalesce_window: Duration = timedelta(minutes=10)


class WorkerSettings(Strict):
    poll_every: Duration = timedelta(seconds=5)
    send_every: Duration = timedelta(seconds=1)
    batch_size: int = Field(default=200, ge=1, le=10_000)
    send_threads: int = Field(default=8, ge=1, le=64)  # provider calls in flight per worker
    # A claimed row is its worker's for `lease`, renewed every `renew_every` while the worker
    # lives (bot/outbox/lease.py): a worker that dies holds its rows one lease at most.
    lease: Duration = Field(
        default=timedelta(seconds=15), ge=timedelta(seconds=2), le=timedelta(minutes=10)
    )
    renew_every: Duration = Field(
        default=timedelta(seconds=5), ge=timedelta(milliseconds=200), le=timedelta(minutes=5)
    )
    # The longest one send run lasts (and at most half the lease): a paced line claims what it
    # can send in that time, and what is not sent by then goes back for the next run, so a
    # run of paced texts never keeps another channel's answer waiting longer than this.
    run_for: Duration = Field(
        default=timedelta(seconds=5), ge=timedelta(milliseconds=100), le=timedelta(minutes=5)
    )
    max_attempts: int = Field(default=6, ge=1, le=50)
    retry_backoff: Duration = timedelta(seconds=2)  # the first retry's delay; it doubles

    @model_validator(mode="after")
    def _renewed_in_time(self) -> WorkerSettings:
        # Two renewals per lease at least, so one that comes late does not lose the rows.
        if self.renew_every * 2 > self.lease:
            raise ValueError(
                f"renew_every ({self.renew_every}) must be at most half the lease "
                f"({self.lease}): renew more often or lengthen the lease"
            )
        return self


class ReportSettings(Strict):
    # An interim update sent within this of its due time counts as on time (`keepposted report`).
    on_time_within: Duration = timedelta(minutes=5)


class Program(Strict):
    """Who the customer is talking to; shown in HELP replies and templates."""

    name: str = "keepposted support"
    # How else to reach the team, in words: one sentence, or one per locale
    # ({en: "call 1-800-555-0199", es: "llame al 1-800-555-0199"}), read along the same chain
    # as templates (es-MX -> es -> the program's locale -> the first given).
    contact: str | dict[LocaleTag, str] = "reply here or call us"
    # The language of contacts with no locale of their own, and the last step of every
    # fallback chain (es-MX -> es -> this). Templates without a locale suffix are English.
    locale: LocaleTag = "en"

    @field_validator("contact", mode="after")
    @classmethod
    def _some_contact(cls, contact: str | dict[str, str]) -> str | dict[str, str]:
        if isinstance(contact, dict) and not contact:
            raise ValueError("give the contact sentence, or one per locale")
        return contact

    def for_locale(self, locale: str | None) -> dict[str, str]:
        """What templates see as `program`, with `contact` in the reader's language."""
        return {"name": self.name, "contact": self.contact_in(locale), "locale": self.locale}

    def contact_in(self, locale: str | None) -> str:
        if isinstance(self.contact, str):
            return self.contact
        tags = [*locale_tags(locale or self.locale), self.locale]
        found = next((self.contact[tag] for tag in tags if tag in self.contact), None)
        return found if found is not None else next(iter(self.contact.values()))


class Config(Strict):
    public_url: str = "http://localhost:8000"
    timezone: TimeZoneName = "UTC"
    default_region: str = Field(default="US", min_length=2, max_length=2)
    program: Program = Program()
    quiet_hours: QuietHours = QuietHours()
    cadences: Cadences = Cadences()
    waiting_reasons: dict[str, WaitingReason] = Field(default_factory=_default_waiting_reasons)
    confirmation: Confirmation = Confirmation()
    keywords: KeywordLists = KeywordLists()
    channels: Channels = Channels()
    sentiment: SentimentSettings = SentimentSettings()
    alerts: AlertSettings = AlertSettings()
    templates: dict[str, dict[str, str]] = Field(default_factory=dict)
    # A folder of template files that win over the packaged ones, file by file (`keepposted init
    # --templates` makes one); relative to this file. $KEEPPOSTED_TEMPLATES overrides it.
    templates_dir: str | None = None
    worker: WorkerSettings = WorkerSettings()
    reports: ReportSettings = ReportSettings()

    @field_validator("waiting_reasons", mode="after")
    @classmethod
    def _keep_builtin_reasons(cls, reasons: dict[str, WaitingReason]) -> dict[str, WaitingReason]:
        """Reasons added in config come on top of the built-in ones, which always exist."""
        return {**_default_waiting_reasons(), **reasons}

    @property
    def keyword_set(self) -> Keywords:
        return self.keywords.to_keywords()


def _describe(error: Mapping[str, Any]) -> str:
    path = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-"))
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against config.yaml's comments)"
    return f"{path or '(top level)'}: {message}"


def parse_config(data: Mapping[str, Any] | None, *, source: str = "config.yaml") -> Config:
    """Validate a mapping into a Config, or raise ConfigError naming every bad key."""
    try:
        return Config.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError([_describe(e) for e in exc.errors()], source=source) from None


def load_config(path: str | Path | None = None) -> Config:
    """Load the config file: PATH, else $KEEPPOSTED_CONFIG, else ./config.yaml (missing is fine)."""
    explicit = path or os.environ.get("KEEPPOSTED_CONFIG")
    file = Path(explicit or "config.yaml")
    if not file.exists():
        if explicit:
            raise ConfigError([f"file not found: {file}"], source=str(file))
        return from_environment(Config(), Path.cwd(), source="the environment")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML: {exc}"], source=str(file)) from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(["(top level): expected a mapping of keys"], source=str(file))
    config = parse_config(data, source=str(file))
    return from_environment(config, file.parent, source=str(file))


def from_environment(config: Config, base: Path, *, source: str) -> Config:
    """What the environment overrides: $KEEPPOSTED_PUBLIC_URL (the address depends on where the
    process runs, e.g. `keepposted dev --port`) and $KEEPPOSTED_TEMPLATES."""
    public_url = os.environ.get("KEEPPOSTED_PUBLIC_URL")
    if public_url:
        config = config.model_copy(update={"public_url": public_url})
    return with_templates_dir(config, base, source=source)


def with_templates_dir(config: Config, base: Path, *, source: str) -> Config:
    """The override folder as an absolute path ($KEEPPOSTED_TEMPLATES first), checked to exist."""
    from_env = os.environ.get("KEEPPOSTED_TEMPLATES")
    given = from_env or config.templates_dir
    if not given:
        return config
    folder = Path(given).expanduser()
    folder = folder if folder.is_absolute() else (Path.cwd() if from_env else base) / folder
    if not folder.is_dir():
        key = "KEEPPOSTED_TEMPLATES" if from_env else "templates_dir"
        raise ConfigError([f"{key}: {folder} is not a folder"], source=source)
    return config.model_copy(update={"templates_dir": str(folder.resolve())})


@dataclass(frozen=True)
class Settings:
    """Secrets and endpoints; they come only from the environment, never from config.yaml."""

    database_url: str = "sqlite:///keepposted.db"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_api_base_url: str | None = None
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_api_url: str | None = None
    secret_key: str | None = None
    api_token: str | None = None
    admin_token: str | None = None
    # Connections each process keeps open, and how many more it may open at a peak; size
    # PostgreSQL's max_connections for every process's sum (README, Running at scale).
    database_pool_size: int = 5
    database_max_overflow: int = 5

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            name: env.get(name.upper()) or None for name in cls.__dataclass_fields__
        }
        values["database_url"] = values["database_url"] or cls.database_url
        for name in ("database_pool_size", "database_max_overflow"):
            values[name] = _whole_number(name.upper(), values[name], getattr(cls, name))
        return cls(**values)


def _whole_number(variable: str, text: str | None, default: int) -> int:
    if text is None:
        return default
    if not text.strip().isdigit():
        raise ConfigError([f"{variable}: expected a whole number, got {text!r}"])
    return int(text)
