"""Issue 19 end to end: conversations reported through the API add up to an account case; a
reviewer escalates the account through the API; the report is approved, assembled by the worker
and downloaded as a packet whose CyberTipline report is a valid chat incident for each
conversation, with the children as victims and the account's e-mail and IP captures."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone
from lxml import etree

from accounts.roles import Role
from accounts.services import api_token_create
from moderation.cases.models import Case
from moderation.enforcement.models import EnforcementAction
from moderation.escalations import cybertip
from moderation.escalations.models import Escalation
from moderation.escalations.services import escalation_approve
from tests.api_helpers import auth, b64, token_for
from tests.conftest import png_bytes
from tests.conversations import conversation_payload
from tests.moderation.escalation_fixtures import prepared


def post(client, token, url, payload):
    return client.post(
        url, data=json.dumps(payload), content_type="application/json", **auth(token)
    )


def conversation(conversation_id: str, minor: str, age: int, colour) -> dict:
    payload = conversation_payload(conversation_id=conversation_id, minor=minor, minor_age=age)
    payload["content"]["owner_email"] = "coach@example.net"
    payload["content"]["ip_captures"] = [
        {"ip": "203.0.113.9", "event": "Login", "time": "2026-11-01T19:58:00Z"}
    ]
    payload["reporter"] = {"kind": "platform_user", "account_id": minor}
    # The adult's photo request, with a (harmless, generated) picture the adult sent.
    payload["conversation"]["messages"][4]["attachments"] = [
        {"filename": "me.png", "data_base64": b64(png_bytes(colour=colour))}
    ]
    return payload


@pytest.mark.django_db
def test_conversations_become_a_decided_account_case_and_a_valid_chat_packet(
    client, make_user, reviewer, run_jobs
):
    platform = token_for(make_user)
    with run_jobs():
        for n, (conversation_id, minor, age) in enumerate(
            (("c-1", "kid-1", 13), ("c-2", "kid-2", 12))
        ):
            payload = conversation(conversation_id, minor, age, colour=(9, 99, 100 + n))
            r = post(client, platform, "/api/v1/reports", payload)
            assert r.status_code == 201, r.content

    # Two minors contacted: the account case is open, for grooming, with its evidence.
    account_case = Case.objects.get(content_item__type="account")
    assert account_case.content_item.platform_id == "adult-1"
    assert account_case.category == "grooming" and account_case.status == "open"

    # A reviewer holding it escalates the account through the API.
    Case.objects.filter(pk=account_case.pk).update(
        assignee=reviewer, lease_expires_at=timezone.now() + timedelta(minutes=15)
    )
    reviewer_token = api_token_create(user=reviewer, name="console")[1]
    r = post(
        client,
        reviewer_token,
        f"/api/v1/cases/{account_case.pk}/decision",
        {"action": "escalate", "policy": "child-safety/grooming", "intent": "malicious"},
    )
    assert r.status_code in (200, 201), r.content
    # The account is suspended and what it sent in the conversations removed.
    actions = set(EnforcementAction.objects.filter(case=account_case).values_list("kind", "target"))
    assert {("suspend_account", "adult-1"), ("remove_content", "c-1-m2")} <= actions

    # The report about the account gathers both conversations; prepared, approved, assembled.
    escalation = Escalation.objects.get(cases=account_case)
    gathered = set(escalation.cases.values_list("content_item__platform_id", flat=True))
    assert gathered == {"adult-1", "c-1", "c-2"}
    prepared(
        escalation,
        reviewer,
        incident_type="Online Enticement of Children for Sexual Acts",
        annotations=[],
    )
    with run_jobs():
        escalation_approve(escalation_id=escalation.pk, user=make_user("sup", Role.SUPERVISOR))
    escalation.refresh_from_db()
    assert escalation.status == "ready", escalation.failure_details

    # Downloaded by a supervisor's token: every document valid against NCMEC's schema.
    supervisor = token_for(make_user, username="sup-api", role=Role.SUPERVISOR)
    r = client.get(f"/api/v1/escalations/{escalation.pk}/packet", **auth(supervisor))
    assert r.status_code == 200
    packet = zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content)))
    names = packet.namelist()
    for name in names:
        if name == "report.xml" or name.startswith("fileDetails/"):
            assert cybertip.validate(packet.read(name)) == [], name
    report = etree.fromstring(packet.read("report.xml"))
    assert len(report.findall(".//chatImIncident")) == 2
    victims = report.findall(".//victim")
    assert len(victims) == 2
    text = etree.tostring(report).decode()
    assert "coach@example.net" in text and "203.0.113.9" in text
    assert "send me a photo" in text  # the reported message, in the chat excerpt
    # Each conversation's whole thread is in the packet, with the attachments as evidence.
    assert {n for n in names if n.startswith("conversation/")} == {
        "conversation/0001.txt",
        "conversation/0002.txt",
    }
    assert len([n for n in names if n.startswith("fileDetails/")]) == 2
