from django import template

from moderation.audit.verification import latest_verification

register = template.Library()


@register.inclusion_tag("moderation/_audit_verification.html", takes_context=True)
def audit_verification_box(context):
    """The latest audit chain verification, with a "verify now" button (supervisors)."""
    return {"verification": latest_verification(), "csrf_token": context.get("csrf_token")}
