"""Phone numbers in E.164, normalised with phonenumbers."""

from __future__ import annotations

import phonenumbers

from bot.errors import InvalidInput


def to_e164(raw: str, region: str = "US", *, field: str = "phone") -> str:
    """Normalise a number as people type it (`(415) 555-0100`, `+44 20 7946 0000`) to E.164."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"{raw!r} is not a phone number", field=field) from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(
            f"{raw!r} is not a possible phone number (include the country code, e.g. +1)",
            field=field,
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(e164: str | None) -> str:
    """A number for logs and exports shared outside the team: +1415•••0100."""
    if not e164:
        return ""
    return e164[:5] + "•" * max(len(e164) - 9, 0) + e164[-4:]
