"""Bounded messages: what a log line, a check description or an error file may say about many items.

A landing file with 5,000 unexpected columns must not produce a 90,000-character log line. Every
message that lists things from the outside world goes through ``bounded`` (how many items) and
``truncate`` (how many characters).
"""

from collections.abc import Iterable

MAX_ITEMS = 10
MAX_ITEM_CHARS = 200
MAX_MESSAGE_CHARS = 2_000


def truncate(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    tail = f"... ({len(text) - limit} more characters)"
    keep = max(limit - len(tail), 0)
    return (text[:keep] + tail)[:limit] if keep else text[:limit]


def bounded(
    items: Iterable[object], limit: int = MAX_ITEMS, item_chars: int = MAX_ITEM_CHARS
) -> str:
    """``"a, b, c"``, or ``"a, b, ... and 4,990 more"`` past ``limit`` items; each item is shown
    as str() cut to ``item_chars``. Items keep their given order."""
    shown, rest = [], 0
    for item in items:
        if len(shown) < limit:
            shown.append(truncate(str(item), item_chars))
        else:
            rest += 1
    text = ", ".join(shown)
    return f"{text}, ... and {rest:,} more" if rest else text
