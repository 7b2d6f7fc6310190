"""Text that can be stored: PostgreSQL refuses NUL characters, and UTF-8 cannot encode lone
surrogates (which JSON's \\ud800 escapes can carry). Both are refused at the edge, as bad input."""

import re


def storable_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def is_storable(value: str) -> bool:
    try:
        storable_text(value)
    except ValueError:
        return False
    return True


# C0 and C1 control characters, DEL included: no id or name has them, and one holding a line
# break cannot even be put in a URL path (Django's <path:> stops at it).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line_name(value: str) -> str:
    """An id, handle or name: storable text without control characters (tabs, line breaks)."""
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters (line breaks, tabs)")
    return value
