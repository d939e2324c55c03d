"""Signed, expiring web chat links: `{public_url}/c/<token>`.

The token is itsdangerous' URL-safe timed signature over `[case id, contact id, link version]`:
anyone holding it may read and answer that one case, and nobody can make one without SECRET_KEY.
It dies after `channels.webchat.link_ttl`, or at once when the case's link version is bumped
(`keepposted link CASE --revoke`). Signing and checking use keepposted's clock, so a test can
move time past the expiry without sleeping.

The errors' messages here are for developers and logs; what the customer reads about each
error code is templates/webchat/link_error.txt.j2 (bot/web/webchat.py puts it in).
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from bot.clock import Clock
from bot.config import Config, Settings
from bot.errors import LinkGone, LinkNotValid
from bot.store.models import Case

SALT = "keepposted.webchat-link"  # a token signed for anything else never opens a chat
NOT_OURS = "the link's signature does not check out"
LONGEST_TOKEN = 200  # ours are about 45 characters; longer is garbage, refused before decoding


@dataclass(frozen=True)
class LinkClaim:
    """What a valid token says: whose chat about which case, under which link version."""

    case_id: int
    contact_id: int
    version: int


class WebchatLinks:
    def __init__(self, secret_key: str, clock: Clock, config: Config) -> None:
        class ClockSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock.now().timestamp())

        self._serializer = URLSafeTimedSerializer(secret_key, salt=SALT, signer=ClockSigner)
        self._ttl = int(config.channels.webchat.link_ttl.total_seconds())
        self._base = config.public_url.rstrip("/")

    def token(self, case: Case) -> str:
        return self._serializer.dumps([case.id, case.contact_id, case.webchat_link_version])

    def url(self, case: Case) -> str:
        return f"{self._base}/c/{self.token(case)}"

    def read(self, token: str) -> LinkClaim:
        """The claim inside a token; LinkGone when it expired, LinkNotValid when it is not ours."""
        if len(token) > LONGEST_TOKEN:
            raise LinkNotValid(NOT_OURS)
        try:
            payload = self._serializer.loads(token, max_age=self._ttl)
        except SignatureExpired:
            raise LinkGone("the link is older than link_ttl", code="link_expired") from None
        except BadData:
            raise LinkNotValid(NOT_OURS) from None
        if not (
            isinstance(payload, list)
            and len(payload) == 3
            and all(type(part) is int for part in payload)
        ):
            raise LinkNotValid(NOT_OURS)
        return LinkClaim(*payload)

    def check_current(self, claim: LinkClaim, case: Case | None) -> Case:
        """The case the claim opens, refusing a link that was revoked or no longer fits."""
        if case is None or case.contact_id != claim.contact_id:
            raise LinkGone("the link's case is gone or has another contact", code="link_replaced")
        if case.webchat_link_version != claim.version:
            raise LinkGone("the link's version was revoked", code="link_replaced")
        return case


def build_links(config: Config, settings: Settings, clock: Clock) -> WebchatLinks | None:
    """Links need SECRET_KEY; without it there are none, and the chat pages answer 503."""
    if not settings.secret_key:
        return None
    return WebchatLinks(settings.secret_key, clock, config)
