import json

from django import template

from moderation.cases.priority import hours_text

register = template.Library()


@register.filter
def as_json(value) -> str:
    """Compact, key-sorted JSON for people reading audit records."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def sla_hours(minutes) -> str:
    """An SLA in the unit people plan shifts in: "1 h", "4 h", "1.5 h", "45 min"."""
    return hours_text(int(minutes or 0))
