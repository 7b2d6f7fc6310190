"""What the platform is told: enough to enforce, and never anything about who reported."""

import json

import pytest

from moderation.cases.services import case_claim_next
from moderation.enforcement.delivery import action_reverse
from moderation.enforcement.models import EnforcementAction, WebhookDelivery
from moderation.enforcement.payload import build_payload
from moderation.review.services import case_decide
from reports.models import Report
from reports.services import report_submit
from tests.intake import intake_fields

REPORTER = {
    "reporter_account_id": "reporter-acct-777",
    "reporter_email": "whistle.blower@mail.example",
    "reporter_ip": "203.0.113.77",
    "description": "I am Jane Roe, I saw this on my feed and reported it",
}
NOTES = "Reporter Jane Roe (whistle.blower@mail.example) is reliable"


def report_about(item: str, category: str, **extra) -> Report:
    return report_submit(
        **intake_fields(
            category=category,
            reporter_kind=Report.ReporterKind.PUBLIC,
            source=Report.Source.API,
            platform_id=item,
            content_url=f"https://social.example/p/{item}",
            content_type="image",
            owner_id="owner-acct-1",
            owner_handle="@owner",
            **REPORTER,
            **extra,
        )
    )


@pytest.mark.django_db
class TestPayload:
    def test_it_never_carries_anything_about_the_reporter(
        self, platform, reviewer, run_jobs, make_user
    ):
        decisions = [
            ("p-warn", "harassment", "warn", "harassment", {}),
            ("p-suspend", "harassment", "suspend", "harassment", {}),
            (
                "p-notice",
                "csam",
                "escalate",
                "child-safety/sexual-exploitation",
                {"intent": "non_malicious", "classification": "B2", "safety_notice": True},
            ),
        ]
        for item, category, action, policy, extra in decisions:
            report_about(item, category)
            if category == "csam":
                # A second reporter, the minor shown, reporting themselves.
                report_about(item, "self_generated", involves_child=True)
            case = case_claim_next(user=reviewer)
            with run_jobs():
                case_decide(
                    case_id=case.pk,
                    user=reviewer,
                    action=action,
                    policy=policy,
                    notes=NOTES,
                    **extra,
                )
        with run_jobs():
            for action in EnforcementAction.objects.all():
                action_reverse(action_id=action.pk, user=reviewer, reason=NOTES)
        sent = platform.received
        kinds = {(r.json["event"], r.json["action"]["kind"]) for r in sent}
        assert kinds == {
            (event, kind)
            for event in ("action.requested", "action.reversed")
            for kind in ("warn", "suspend_account", "remove_content", "safety_notice")
        }
        everything = " ".join(r.body.decode() + json.dumps(r.headers) for r in sent).lower()
        for secret in [*REPORTER.values(), "jane roe", "whistle", "reporter-acct", "203.0.113"]:
            assert secret.lower() not in everything, secret
        # Nor what kind of reporter: a self-report names the person shown.
        assert "self_generated" not in everything
        assert "reporter" not in everything

    def test_a_warning_carries_the_notice_to_the_owner(self, platform, decide):
        decide("warn", category="harassment", policy="harassment")
        body = platform.received[0].json
        assert body["action"]["target_type"] == "account"
        assert body["action"]["target"] == "acct-42"
        notice = body["notice"]
        assert notice["to_account_id"] == "acct-42"
        assert "harassment and bullying" in notice["text"]
        assert "appeal" in notice["text"]

    def test_a_safety_notice_says_why_resharing_harms_and_how_to_report(self, platform, decide):
        decide(
            "escalate",
            category="csam",
            policy="child-safety/sexual-exploitation",
            decision={"intent": "non_malicious", "classification": "B1", "safety_notice": True},
        )
        notice = next(
            r.json for r in platform.received if r.json["action"]["kind"] == "safety_notice"
        )
        text = notice["notice"]["text"].lower()
        assert "illegal" in text
        assert "revictimises the child" in text
        assert "report it instead" in text and "https://report.cybertip.org" in text

    def test_it_carries_what_the_platform_needs_to_enforce(self, platform, decide):
        case = decide("suspend", category="spam", policy="spam")
        bodies = {r.json["action"]["kind"]: r.json for r in platform.received}
        remove, suspend = bodies["remove_content"], bodies["suspend_account"]
        item = case.content_item
        assert remove["action"]["target_type"] == "content"
        assert remove["action"]["target"] == item.platform_id
        assert remove["content"] == {
            "id": item.platform_id,
            "url": item.url,
            "type": item.type,
            "owner_account_id": "acct-42",
        }
        assert suspend["action"]["target"] == "acct-42"
        decision = case.decisions.get()
        for body in (remove, suspend):
            assert body["schema_version"] == 1
            assert body["event"] == "action.requested"
            assert body["case"] == {"id": case.pk, "category": "spam"}
            assert body["basis"] == "decision"
            assert body["decision"] == {
                "id": decision.pk,
                "action": "suspend",
                "policy": "spam",
                "decided_at": decision.created_at.isoformat(),
            }
            assert body["notice"] is None
            assert "reversal" not in body

    def test_the_same_delivery_always_has_the_same_body(self, settings, decide):
        settings.PLATFORM_WEBHOOK_URL = ""
        decide("remove")
        delivery = WebhookDelivery.objects.select_related("action").get()
        assert build_payload(delivery) == build_payload(delivery)
        assert build_payload(delivery)["delivery_id"] == str(delivery.uuid)

    def test_a_self_report_is_sent_as_what_it_shows_not_who_reported_it(self, platform, decide):
        case = decide(
            "escalate",
            category="self_generated",
            policy="child-safety/sexual-exploitation",
            decision={"intent": "malicious", "classification": "B2"},
            involves_child=True,
        )
        assert case.category == "self_generated"
        assert platform.received[0].json["case"]["category"] == "csam"
