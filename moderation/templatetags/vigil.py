import json

from django import template

register = template.Library()


@register.filter
def as_json(value) -> str:
    """Compact, key-sorted JSON for people reading audit records."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
