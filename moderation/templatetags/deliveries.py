from django import template

from moderation.enforcement.delivery import delivery_configured as configured

register = template.Library()


@register.simple_tag
def delivery_configured() -> bool:
    """Whether actions are being delivered to the platform (PLATFORM_WEBHOOK_URL is set)."""
    return configured()
