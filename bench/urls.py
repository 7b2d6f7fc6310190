"""Vigil's URLs plus the baselines of bench/intake.py. Used only by bench/settings.py: production
URLs (config/urls.py) never include them."""

import json

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as vigil_urlpatterns


@csrf_exempt
@require_POST
def trivial(request: HttpRequest) -> JsonResponse:
    """Read and parse the JSON body, answer with a constant: what any JSON endpoint does at least."""
    json.loads(request.body)
    return JsonResponse({"ok": True})


@csrf_exempt
@require_POST
def insert_one(request: HttpRequest) -> JsonResponse:
    """The floor of any endpoint that stores what it accepts before answering: parse the body, one
    INSERT in its own transaction (an audit event holding the body), commit, answer 201. No
    authentication, no validation, nothing else."""
    from moderation.audit.models import AuditEvent

    body = json.loads(request.body)
    with transaction.atomic():
        event = AuditEvent.objects.create(
            actor_label="bench",
            verb="bench.insert_one",
            object_type="bench",
            object_id=str(body.get("external_id", "")),
            after=body,
        )
    return JsonResponse({"id": event.pk}, status=201)


urlpatterns = [
    path("bench/trivial", trivial),
    path("bench/insert-one", insert_one),
    *vigil_urlpatterns,
]
