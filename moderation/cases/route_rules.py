"""The rules a queue routes by, as plain values: sources, BCP 47 languages, and what routing
looks at for a case (RouteInput). No database: the Queue model validates and matches with these,
and moderation/cases/routing.py picks the queue."""

import re
from dataclasses import dataclass, field

# A bank of known material: its policy's value (moderation/banks/models.py, HashBank.Policy takes
# it from here, so routing can name it without reading the banks' code).
KNOWN_MATERIAL_POLICY = "act_and_escalate"

# Sources a queue rule can name: the public form, the platform API's user reports, any automated
# flag, or flags from one named source ("flag:<source>", the `source` the flag API was given).
FORM, API, ANY_FLAG = "form", "api", "flag"
FLAG_PREFIX = "flag:"

# RFC 5646 language tags, the parts people use: a 2-3 letter language (the 5-8 letter form is
# reserved and unused, and would let words like "english" through), optional script, region,
# variants and private use. Plain syntax, so the OpenAPI document can carry it as a pattern.
BCP47_PATTERN = (
    r"^[A-Za-z]{2,3}"
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(?:-x(?:-[A-Za-z0-9]{1,8})+)?$"
)
BCP47 = re.compile(BCP47_PATTERN)


def normalise_language(value: str) -> str:
    """A BCP 47 tag in its conventional case ("pt-br" -> "pt-BR", "ZH-hant" -> "zh-Hant"), or
    ValueError. Empty stays empty."""
    value = value.strip()
    if not value:
        return ""
    if len(value) > 35 or not BCP47.match(value):
        raise ValueError(f"{value!r} is not a BCP 47 language tag (e.g. en, pt-BR, zh-Hant)")
    out = []
    for i, part in enumerate(value.split("-")):
        if i and len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif i and len(part) == 2 and part.isalpha():
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def language_matches(rule_tags: list[str], language: str) -> bool:
    """RFC 4647 basic filtering: "pt" matches "pt" and "pt-BR"; unknown language matches none."""
    language = language.lower()
    if not language:
        return False
    return any(language == t.lower() or language.startswith(t.lower() + "-") for t in rule_tags)


def source_of_flag(source: str) -> str:
    return f"{FLAG_PREFIX}{source}"


def source_matches(rule_sources: list[str], sources) -> bool:
    for wanted in rule_sources:
        if wanted == ANY_FLAG:
            if any(s.startswith(FLAG_PREFIX) for s in sources):
                return True
        elif wanted in sources:
            return True
    return False


def source_rule_error(value: str) -> str | None:
    if value in (FORM, API, ANY_FLAG):
        return None
    if value.startswith(FLAG_PREFIX) and 0 < len(value) - len(FLAG_PREFIX) <= 100:
        return None
    return (
        f"{value!r}: use form, api, flag (any automated flag) or flag:<source name> "
        "(e.g. flag:nudity-classifier)"
    )


@dataclass(frozen=True)
class RouteInput:
    category: str
    involves_child: bool
    sources: frozenset[str] = frozenset()
    language: str = ""
    bank_ids: frozenset[int] = field(default_factory=frozenset)
    # A match in a known-material bank, or a decision that classified the material A1-B2.
    known_material: bool = False
