"""Text that can be stored: PostgreSQL refuses NUL characters, and UTF-8 cannot encode lone
surrogates (which JSON's \\ud800 escapes can carry). Both are refused at the edge, as bad input."""


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
