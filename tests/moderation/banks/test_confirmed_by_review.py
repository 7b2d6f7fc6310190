"""Learning from decisions: media a decision found to be CSAM goes into the "confirmed by review"
bank with its provenance, re-shares match at intake and get the bank's policy, open cases are
matched retroactively, and an overturned decision takes back what it added."""

import pytest

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.banks.confirmed import CONFIRMED_BANK_SLUG
from moderation.banks.matching import forget_indexes
from moderation.banks.models import BankEntry, HashBank, Match
from moderation.cases.models import Case
from moderation.cases.services import case_claim_next
from moderation.enforcement.models import EnforcementAction
from moderation.escalations.models import Escalation
from moderation.review.appeals import appeal_open
from moderation.review.services import case_decide
from tests.moderation.signals import known_image, report_image, resized_copy

CSAM_FINDING = {
    "action": "escalate",
    "policy": "child-safety/sexual-exploitation",
    "intent": "malicious",
    "classification": "A2",
}


def decide_csam(submit_report, reviewer, *, platform_id="post-1", owner_id="acct-1"):
    report = report_image(
        submit_report, known_image(), category="csam", platform_id=platform_id, owner_id=owner_id
    )
    case = case_claim_next(user=reviewer)
    assert case.pk == report.case_id
    return report, case_decide(case_id=case.pk, user=reviewer, **CSAM_FINDING)


def confirmed():
    return BankEntry.objects.filter(bank__slug=CONFIRMED_BANK_SLUG, removed_at__isnull=True)


@pytest.mark.django_db
class TestLearning:
    def test_a_csam_finding_adds_its_media_with_provenance(self, submit_report, reviewer, run_jobs):
        with run_jobs():
            report, decision = decide_csam(submit_report, reviewer)
        media = report.media.get()
        entries = {e.signal_type: e for e in confirmed()}
        assert set(entries) == {"pdq", "md5", "sha256"}
        for signal_type, entry in entries.items():
            assert entry.value == getattr(media, signal_type)
            assert entry.decision == decision and entry.media == media
            assert entry.decision.case_id == report.case_id
            assert entry.added_by == reviewer and entry.labels == ["A2"]
        event = AuditEvent.objects.get(verb="bank.confirmed_by_review")
        assert event.after["decision"] == decision.pk and len(event.after["entries"]) == 3

    @pytest.mark.parametrize(
        "fields",
        [
            {"action": "no_violation", "policy": "harassment"},
            {"action": "remove", "policy": "harassment"},
            {"action": "senior_review", "policy": "harassment"},
        ],
    )
    def test_anything_but_a_csam_finding_adds_nothing(
        self, submit_report, reviewer, run_jobs, fields
    ):
        report = report_image(submit_report, known_image(), category="harassment")
        with run_jobs():
            case_decide(case_id=case_claim_next(user=reviewer).pk, user=reviewer, **fields)
        assert not confirmed().exists()
        assert report.media.get().hashed_at is not None

    def test_an_administrator_can_switch_the_learning_off(self, submit_report, reviewer):
        HashBank.objects.filter(slug=CONFIRMED_BANK_SLUG).update(is_active=False)
        decide_csam(submit_report, reviewer)
        assert not BankEntry.objects.exists()

    def test_a_resized_reshare_matches_at_intake_and_gets_the_known_material_policy(
        self, submit_report, reviewer, run_jobs
    ):
        with run_jobs():
            decide_csam(submit_report, reviewer)
        forget_indexes()  # a worker sees the bank's new version within REFRESH_SECONDS
        copy = report_image(
            submit_report,
            resized_copy(known_image()),
            category="spam",
            platform_id="post-2",
            owner_id="acct-2",
        )
        case = Case.objects.get(pk=copy.case_id)
        match = Match.objects.get(media=copy.media.get())
        assert match.entry.bank.slug == CONFIRMED_BANK_SLUG and match.signal_type == "pdq"
        assert case.queue.slug == "child-safety-known"
        assert case.priority_breakdown[0]["label"] == "known-material match: Confirmed by review"
        assert set(case.actions.values_list("kind", "target")) == {
            ("remove_content", "post-2"),
            ("suspend_account", "acct-2"),
        }
        assert Escalation.objects.filter(cases=case, owner_id="acct-2").exists()

    def test_open_cases_already_waiting_are_matched_after_the_decision(
        self, submit_report, make_user, run_jobs
    ):
        # The copy arrived first, reported as spam, and waits in General.
        waiting = report_image(
            submit_report, resized_copy(known_image()), category="spam", platform_id="post-9"
        )
        reviewer = make_user("rita", Role.REVIEWER)
        first = report_image(submit_report, known_image(), category="csam", platform_id="p-1")
        case = Case.objects.get(pk=first.case_id)
        Case.objects.filter(pk=case.pk).update(priority=10**6)  # claimed first
        assert case_claim_next(user=reviewer).pk == case.pk
        with run_jobs():
            case_decide(case_id=case.pk, user=reviewer, **CSAM_FINDING)
        waiting_case = Case.objects.get(pk=waiting.case_id)
        assert waiting_case.bank_match_level == 2
        assert waiting_case.queue.slug == "child-safety-known"
        # The deciding case does not match what it added.
        assert not Match.objects.filter(media=first.media.get()).exists()

    def test_an_overturned_decision_takes_back_what_it_added(
        self, submit_report, reviewer, make_user, run_jobs
    ):
        with run_jobs():
            report, decision = decide_csam(submit_report, reviewer)
        assert confirmed().count() == 3
        appeal_open(content_id="post-1", statement="Not what you think.", actor_label="t")
        senior = make_user("sonia", Role.SENIOR_REVIEWER)
        assert case_claim_next(user=senior).pk == report.case_id
        with run_jobs():
            case_decide(
                case_id=report.case_id, user=senior, action="no_violation", policy="harassment"
            )
        assert not confirmed().exists()
        assert BankEntry.objects.filter(decision=decision, removed_at__isnull=False).count() == 3
        event = AuditEvent.objects.get(verb="bank.confirmation_withdrawn")
        assert event.actor == senior and event.before["decision"] == decision.pk
        # A re-share now is not matched.
        forget_indexes()
        copy = report_image(submit_report, resized_copy(known_image()), category="spam")
        assert not Match.objects.filter(media=copy.media.get()).exists()
        assert not EnforcementAction.objects.filter(case=copy.case).exists()

    def test_an_upheld_decision_keeps_its_entries(
        self, submit_report, reviewer, make_user, run_jobs
    ):
        with run_jobs():
            report, decision = decide_csam(submit_report, reviewer)
        appeal_open(content_id="post-1", statement="Not what you think.", actor_label="t")
        senior = make_user("sonia", Role.SENIOR_REVIEWER)
        case_claim_next(user=senior)
        with run_jobs():
            case_decide(case_id=report.case_id, user=senior, **CSAM_FINDING)
        assert {e.decision_id for e in confirmed()} == {decision.pk}
