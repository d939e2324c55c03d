"""Characters no keyboard types and no database stores as text: C0 control characters other
than tab and line breaks (PostgreSQL refuses NUL outright) and lone halves of a UTF-16
surrogate pair (not UTF-8 at all). Customers' messages (bot/engine/inbound.py) and agents'
text (bot/agents/args.py) are refused with what `unstorable` says."""

from __future__ import annotations

import re

_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
SURROGATES = range(0xD800, 0xE000)


def unstorable(text: str) -> str | None:
    """The first such character and where it is, for an error message; None for clean text."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    if code in SURROGATES:
        what = f"half of a UTF-16 surrogate pair (U+{code:04X}), not text,"
    else:
        what = f"a control character (U+{code:04X})"
    return f"{what} at position {found.start()}"
