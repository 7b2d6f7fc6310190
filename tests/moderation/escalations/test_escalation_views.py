"""The escalation pages: who sees what, preparing, approving and the live progress."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.escalations.models import Escalation
from moderation.escalations.services import escalation_open
from tests.moderation.escalation_fixtures import DETAILS, overturn_on_appeal, prepared


def details_post(**overrides) -> dict:
    data = {**DETAILS, **overrides}
    post = {k: v for k, v in data.items() if k not in ("annotations", "urgent")}
    post["annotations"] = data["annotations"]
    if data["urgent"]:
        post["urgent"] = "on"
    return post


@pytest.mark.django_db
class TestList:
    def test_a_reviewer_sees_only_the_escalations_they_took_part_in(
        self, client, escalate, make_user
    ):
        mine, reviewer = escalate()
        theirs, _ = escalate(owner="acct-2")
        client.force_login(reviewer)
        response = client.get(reverse("escalations"))
        assert response.status_code == 200
        shown = [e.pk for e in response.context["page"]]
        assert shown == [mine.pk] and theirs.pk not in shown

    def test_urgent_first_then_failed_then_oldest_for_senior_reviewers(
        self, client, escalate, make_user
    ):
        oldest, failed, urgent = self.three(escalate, make_user)
        client.force_login(make_user("sen", Role.SENIOR_REVIEWER))
        response = client.get(reverse("escalations"))
        assert [e.pk for e in response.context["page"]] == [urgent.pk, failed.pk, oldest.pk]
        assert b"danger" in response.content
        # Their view keeps its columns: no supervisors' overview.
        assert not response.context["overview"] and b"Evidence kept" not in response.content

    def test_supervisors_see_failed_ones_first(self, client, escalate, make_user):
        oldest, failed, urgent = self.three(escalate, make_user)
        client.force_login(make_user("boss", Role.SUPERVISOR))
        response = client.get(reverse("escalations"))
        assert [e.pk for e in response.context["page"]] == [failed.pk, urgent.pk, oldest.pk]
        assert b"Failed ones come first" in response.content

    def three(self, escalate, make_user):
        oldest, _ = escalate(owner="a")
        failed, _ = escalate(owner="b")
        urgent, _ = escalate(owner="c")
        Escalation.objects.filter(pk=failed.pk).update(
            status="failed", failure_reason="schema", approved_by=make_user("x", Role.SUPERVISOR)
        )
        Escalation.objects.filter(pk=urgent.pk).update(urgent=True, urgent_reason="danger")
        return oldest, failed, urgent

    def test_the_supervisors_overview_shows_authority_age_report_id_and_preservation(
        self, client, escalate, make_user
    ):
        boss = make_user("boss", Role.SUPERVISOR)
        submitted, _ = escalate(owner="a")
        held, _ = escalate(owner="b")
        lapsed, _ = escalate(owner="c")
        now = timezone.now()
        sent = {
            "status": "submitted",
            "approved_by": boss,
            "submitted_at": now - timedelta(days=3),
            "submitted_via": "manual",
        }
        Escalation.objects.filter(pk=submitted.pk).update(
            **sent, report_id=424242, preserve_until=now + timedelta(days=362)
        )
        Escalation.objects.filter(pk=held.pk).update(
            **sent,
            report_id=515151,
            preserve_until=now - timedelta(days=2),
            legal_hold=True,
            legal_hold_reason="subpoena 7",
            legal_hold_by=boss,
        )
        Escalation.objects.filter(pk=lapsed.pk).update(
            **sent, report_id=616161, preserve_until=now - timedelta(days=1)
        )
        Escalation.objects.filter(pk=submitted.pk).update(created_at=now - timedelta(days=5))
        client.force_login(boss)
        response = client.get(reverse("escalations") + "?status=all")
        assert response.context["overview"]

        def row(escalation):
            marker = f'<a href="{reverse("escalation_detail", args=[escalation.pk])}">'
            return response.content.decode().split(marker)[1].split("</tr>")[0]

        first = row(submitted)
        assert "NCMEC CyberTipline" in first and "424242" in first
        assert "5\xa0days" in first
        until = (now + timedelta(days=362)).strftime("%Y-%m-%d")
        assert f'until <span data-testid="preserve-until">{until}</span>' in first
        assert "deadline passed" not in first and "legal hold" not in first
        second = row(held)
        assert 'data-testid="legal-hold" title="subpoena 7"' in second
        assert "until lifted" in second and "by boss" in second
        assert "deadline passed" not in second  # the hold keeps it
        assert "deadline passed" in row(lapsed)

    def test_it_takes_a_fixed_number_of_queries(
        self, client, escalate, make_user, django_assert_max_num_queries
    ):
        boss = make_user("boss", Role.SUPERVISOR)
        for owner in "abcdefgh":
            escalate(owner=owner)
        # Held ones show who placed the hold: still no query per row.
        Escalation.objects.filter(owner_id__in="abcd").update(
            status="failed", failure_reason="x", legal_hold=True, legal_hold_by=boss
        )
        client.force_login(boss)
        with django_assert_max_num_queries(12):
            response = client.get(reverse("escalations") + "?status=all")
        assert len(response.context["page"]) == 8
        assert response.content.count(b'data-testid="legal-hold"') == 4


@pytest.mark.django_db
class TestDetail:
    def test_a_reviewer_prepares_their_escalation_and_sends_it_for_approval(self, client, escalate):
        escalation, reviewer = escalate()
        client.force_login(reviewer)
        page = client.get(reverse("escalation_detail", args=[escalation.pk]))
        assert page.status_code == 200 and b"details-form" in page.content
        response = client.post(
            reverse("escalation_details", args=[escalation.pk]),
            {**details_post(), "request_approval": ""},
        )
        assert response.status_code == 302
        escalation.refresh_from_db()
        assert escalation.status == "awaiting_approval"
        assert escalation.approval_requested_by == reviewer
        assert escalation.incident_summary == DETAILS["incident_summary"]

    def test_urgent_without_a_reason_is_a_form_error_and_nothing_changes(self, client, escalate):
        escalation, reviewer = escalate()
        client.force_login(reviewer)
        response = client.post(
            reverse("escalation_details", args=[escalation.pk]), details_post(urgent=True)
        )
        assert response.status_code == 400
        assert "urgent_reason" in response.context["details_form"].errors
        escalation.refresh_from_db()
        assert not escalation.urgent and escalation.incident_summary == ""

    def test_the_approver_sees_the_button_the_escalating_reviewer_does_not(
        self, client, escalate, make_user
    ):
        senior = make_user("sen", Role.SENIOR_REVIEWER)
        escalation, _ = escalate(reviewer=senior)
        prepared(escalation, senior)
        client.force_login(senior)
        page = client.get(reverse("escalation_detail", args=[escalation.pk]))
        assert b'data-testid="approve"' not in page.content
        assert b"someone else must approve it" in page.content
        # Trying anyway is refused with a message, nothing changes.
        client.post(reverse("escalation_approve", args=[escalation.pk]))
        escalation.refresh_from_db()
        assert escalation.status == "awaiting_approval"

        boss = make_user("boss", Role.SUPERVISOR)
        client.force_login(boss)
        page = client.get(reverse("escalation_detail", args=[escalation.pk]))
        assert b'data-testid="approve"' in page.content

    def test_sending_back_without_a_note_shows_the_error(self, client, escalate, make_user):
        escalation, reviewer = escalate()
        prepared(escalation, reviewer)
        client.force_login(make_user("boss", Role.SUPERVISOR))
        response = client.post(reverse("escalation_return", args=[escalation.pk]), {"note": " "})
        assert response.status_code == 400
        escalation.refresh_from_db()
        assert escalation.status == "awaiting_approval"

    def test_saving_details_after_it_was_sent_for_approval_says_so_not_a_500(
        self, client, escalate
    ):
        # A second tab still shows the form after the report was sent for approval.
        escalation, reviewer = escalate()
        prepared(escalation, reviewer)
        client.force_login(reviewer)
        response = client.post(
            reverse("escalation_details", args=[escalation.pk]),
            details_post(incident_summary="Rewritten after the fact."),
        )
        assert response.status_code == 302
        page = client.get(response["Location"])
        assert b"cannot be edited now" in page.content
        escalation.refresh_from_db()
        assert escalation.status == "awaiting_approval"
        assert escalation.incident_summary == DETAILS["incident_summary"]

    def test_a_reviewer_cannot_edit_an_escalation_they_had_no_part_in(
        self, client, escalate, make_user
    ):
        escalation, _ = escalate()
        client.force_login(make_user("stranger"))
        response = client.post(reverse("escalation_details", args=[escalation.pk]), details_post())
        assert response.status_code == 404
        assert not AuditEvent.objects.filter(verb="escalation.details_changed").exists()

    def test_a_supervisor_withdraws_with_a_reason(self, client, escalate, make_user):
        escalation, _ = escalate()
        client.force_login(make_user("boss", Role.SUPERVISOR))
        client.post(
            reverse("escalation_withdraw", args=[escalation.pk]), {"note": "overturned on appeal"}
        )
        escalation.refresh_from_db()
        assert escalation.status == "withdrawn"


@pytest.mark.django_db
class TestProgress:
    def test_it_draws_the_bar_while_assembling_and_reloads_the_page_after(
        self, client, submit_report, make_user
    ):
        boss = make_user("boss", Role.SUPERVISOR)
        report = submit_report(category="csam", owner_id="acct-3")
        escalation = escalation_open(case=report.case, reason="test")
        Escalation.objects.filter(pk=escalation.pk).update(
            status="assembling",
            approved_by=boss,
            progress_done=30,
            progress_total=120,
            progress_step="Copying evidence",
        )
        client.force_login(boss)
        url = reverse("escalation_progress", args=[escalation.pk])
        response = client.get(url)
        assert response.status_code == 200
        assert b'value="25"' in response.content and b"Copying evidence" in response.content
        page = client.get(reverse("escalation_detail", args=[escalation.pk]))
        assert b'hx-get="' + url.encode() in page.content

        Escalation.objects.filter(pk=escalation.pk).update(status="ready", packet_sha256="ab" * 32)
        done = client.get(url)
        assert done.status_code == 204 and done["HX-Refresh"] == "true"


@pytest.mark.django_db
def test_escalating_on_the_case_page_leads_to_the_report_to_prepare(
    client, make_user, submit_report
):
    from moderation.cases.services import case_claim_next

    reviewer = make_user("rev")
    submit_report(category="csam", involves_child=True, owner_id="acct-7")
    case = case_claim_next(user=reviewer)
    client.force_login(reviewer)
    response = client.post(
        reverse("case_decide", args=[case.pk]),
        {
            "action": "escalate",
            "policy": "child-safety/sexual-exploitation",
            "intent": "malicious",
            "classification": "A2",
        },
    )
    escalation = Escalation.objects.get(cases=case)
    assert response.status_code == 302
    assert response.url == reverse("escalation_detail", args=[escalation.pk])


@pytest.mark.django_db
def test_the_page_says_when_an_escalating_decision_was_overturned(client, escalate, make_user):
    from moderation.decisions.models import Decision

    escalation, _ = escalate()
    decision = Decision.objects.get(case__escalations=escalation)
    boss = make_user("boss", Role.SUPERVISOR)
    client.force_login(boss)
    url = reverse("escalation_detail", args=[escalation.pk])
    assert b'data-testid="overturned"' not in client.get(url).content
    overturn_on_appeal(decision, by=boss)
    page = client.get(url)
    assert b'data-testid="overturned"' in page.content
    assert page.context["overturned"] == [decision.case_id]


@pytest.mark.django_db
def test_a_failed_assembly_offers_the_way_back_to_draft(client, escalate, make_user):
    escalation, reviewer = escalate()
    prepared(escalation, reviewer)
    boss = make_user("boss", Role.SUPERVISOR)
    Escalation.objects.filter(pk=escalation.pk).update(
        status="failed", failure_reason="does not validate", approved_by=boss
    )
    client.force_login(boss)
    page = client.get(reverse("escalation_detail", args=[escalation.pk]))
    assert b'data-testid="restart"' in page.content
    client.post(reverse("escalation_return", args=[escalation.pk]), {"note": "Fix it."})
    escalation.refresh_from_db()
    assert escalation.status == "draft"


@pytest.mark.django_db
def test_the_page_says_when_a_later_decision_found_no_violation(client, submit_report, make_user):
    from moderation.decisions.models import Decision

    report = submit_report(category="csam", owner_id="acct-8")
    # A bank policy escalated it on its own; then a reviewer looked and disagreed.
    escalation = escalation_open(case=report.case, reason="bank", actor_label="bank")
    boss = make_user("boss", Role.SUPERVISOR)
    client.force_login(boss)
    url = reverse("escalation_detail", args=[escalation.pk])
    assert client.get(url).context["cleared"] == []
    Decision.objects.create(
        case=report.case, reviewer=make_user("rev"), action="no_violation", policy="csam"
    )
    page = client.get(url)
    assert page.context["cleared"] == [report.case_id]
    assert b'data-testid="cleared"' in page.content
