"""The incident type a new escalation starts with: from the category of the case that opens it
(grooming and sextortion are enticement; CSAM, child nudity and self-generated images are child
pornography; anything else the schema's first type), never changed by a case joining the draft,
and shown to the preparer, who may change it."""

import pytest
from django.db import transaction
from django.urls import reverse

from moderation.audit.models import AuditEvent
from moderation.cases.services import case_claim_next
from moderation.escalations.models import INCIDENT_TYPES, Escalation
from moderation.escalations.services import escalation_open
from moderation.review.services import case_decide
from tests.moderation.escalation_fixtures import DETAILS

ENTICEMENT = "Online Enticement of Children for Sexual Acts"
CHILD_PORNOGRAPHY = "Child Pornography (possession, manufacture, and distribution)"


def opened(case, **kwargs) -> Escalation:
    with transaction.atomic():
        return escalation_open(case=case, reason="test", actor_label="test", **kwargs)


@pytest.mark.django_db
class TestFromTheCategory:
    @pytest.mark.parametrize(
        "category, incident_type",
        [
            ("grooming", ENTICEMENT),
            ("sextortion", ENTICEMENT),
            ("csam", CHILD_PORNOGRAPHY),
            ("child_nudity", CHILD_PORNOGRAPHY),
            ("self_generated", CHILD_PORNOGRAPHY),
            # Not child safety: the schema's first type, for the preparer to confirm or change.
            ("harassment", INCIDENT_TYPES[0]),
        ],
    )
    def test_it_starts_with_the_type_of_the_case_that_opens_it(
        self, submit_report, category, incident_type
    ):
        case = submit_report(category=category, involves_child=True, owner_id="acct-1").case
        escalation = opened(case)
        escalation.refresh_from_db()
        assert escalation.incident_type == incident_type
        event = AuditEvent.objects.get(verb="escalation.opened")
        assert event.after["incident_type"] == incident_type

    def test_a_case_joining_a_draft_leaves_its_type_as_it_is(self, submit_report):
        images = submit_report(category="csam", involves_child=True, owner_id="acct-1").case
        chat = submit_report(category="grooming", involves_child=True, owner_id="acct-1").case
        first = opened(images)
        joined = opened(chat)
        assert joined == first
        joined.refresh_from_db()
        # Enticement joined a draft still at the default: the preparer decides, not the order.
        assert joined.incident_type == CHILD_PORNOGRAPHY
        assert set(joined.cases.all()) == {images, chat}

    def test_a_type_the_preparer_chose_stays_when_more_content_joins(self, submit_report):
        chat = submit_report(category="grooming", involves_child=True, owner_id="acct-1").case
        escalation = opened(chat)
        Escalation.objects.filter(pk=escalation.pk).update(
            incident_type="Unsolicited Obscene Material Sent to a Child"
        )
        more = submit_report(category="sextortion", involves_child=True, owner_id="acct-1").case
        opened(more)
        escalation.refresh_from_db()
        assert escalation.incident_type == "Unsolicited Obscene Material Sent to a Child"

    def test_a_reviewers_decision_on_a_grooming_report_opens_an_enticement_report(
        self, submit_report, reviewer
    ):
        submit_report(category="grooming", involves_child=True, owner_id="acct-5")
        case = case_claim_next(user=reviewer)
        case_decide(
            case_id=case.pk,
            user=reviewer,
            action="escalate",
            policy="child-safety/grooming",
            intent="malicious",
        )
        assert Escalation.objects.get(cases=case).incident_type == ENTICEMENT


@pytest.mark.django_db
class TestThePreparerDecides:
    def test_the_page_shows_the_type_chosen_and_the_preparer_changes_it(
        self, client, submit_report, reviewer
    ):
        submit_report(category="grooming", involves_child=True, owner_id="acct-5")
        case = case_claim_next(user=reviewer)
        case_decide(
            case_id=case.pk,
            user=reviewer,
            action="escalate",
            policy="child-safety/grooming",
            intent="malicious",
        )
        escalation = Escalation.objects.get(cases=case)
        client.force_login(reviewer)
        page = client.get(reverse("escalation_detail", args=[escalation.pk]))
        assert page.status_code == 200
        form = page.context["details_form"]
        assert form["incident_type"].value() == ENTICEMENT
        assert f'<option value="{ENTICEMENT}" selected>'.encode() in page.content
        post = {k: v for k, v in DETAILS.items() if k not in ("annotations", "urgent")}
        post["incident_type"] = CHILD_PORNOGRAPHY
        response = client.post(reverse("escalation_details", args=[escalation.pk]), post)
        assert response.status_code == 302
        escalation.refresh_from_db()
        assert escalation.incident_type == CHILD_PORNOGRAPHY
        changed = AuditEvent.objects.get(verb="escalation.details_changed")
        assert changed.before["incident_type"] == ENTICEMENT
        assert changed.after["incident_type"] == CHILD_PORNOGRAPHY
        # Read-only once sent for approval: the type is shown as chosen.
        Escalation.objects.filter(pk=escalation.pk).update(status="awaiting_approval")
        page = client.get(reverse("escalation_detail", args=[escalation.pk]))
        assert page.context["details_form"] is None
        assert f"<dt>Incident type</dt><dd>{CHILD_PORNOGRAPHY}</dd>".encode() in page.content
