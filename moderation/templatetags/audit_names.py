"""The audit log's codes in words, for templates: {{ e.verb|event_name }}, {{ e.object_type|object_noun }}."""

from django import template

from moderation.audit import names

register = template.Library()

register.filter("event_name", names.event_name)
register.filter("object_noun", names.object_noun)
