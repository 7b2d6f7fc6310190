from django import template

from moderation.escalations.custody import Preservation, preservation

register = template.Library()


@register.simple_tag
def custody_preservation(escalation) -> Preservation:
    """How long the escalation's evidence is kept, and why (for the custody panel)."""
    return preservation(escalation)
