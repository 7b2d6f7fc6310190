"""A reviewer's decision on media a programme's entry matched becomes that programme's feedback:
queued with the decision, sent by a job once, retried with backoff, given up on refusal."""

from datetime import timedelta

import pytest
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.banks.models import BankEntry, HashBank, Match
from moderation.cases.services import case_claim_next
from moderation.exchanges.feedback import feedback_send
from moderation.exchanges.models import Exchange, ExchangeFeedback
from moderation.exchanges.services import exchanges_enqueue_due
from moderation.exchanges.sync import exchange_sync
from moderation.review.services import case_decide
from tests.moderation.exchanges import fake_stopncii
from tests.moderation.exchanges.fake_http import running
from tests.moderation.exchanges.fake_stopncii import record

ENV = "VIGIL_EXCHANGE_NCII"
PDQ = "5a" * 32


@pytest.fixture
def stopncii(monkeypatch, db):
    monkeypatch.setenv(f"{ENV}_SUBSCRIPTION_KEY", fake_stopncii.SUBSCRIPTION_KEY)
    monkeypatch.setenv(f"{ENV}_FETCH_KEY", fake_stopncii.FETCH_KEY)
    monkeypatch.setenv(f"{ENV}_FEEDBACK_KEY", fake_stopncii.FEEDBACK_KEY)
    with running(fake_stopncii.FakeStopNcii(), fake_stopncii.start) as fake:
        bank = HashBank.objects.create(name="StopNCII", slug="ncii", signal_types=["pdq"])
        exchange = Exchange.objects.create(
            name="StopNCII",
            slug="stopncii",
            kind="stopncii",
            bank=bank,
            url=fake.url,
            credentials_env=ENV,
        )
        fake.records = [record(PDQ, modified=1000)]
        exchange_sync(exchange_id=exchange.pk)
        yield fake, exchange


@pytest.fixture
def matched_case(stopncii, submit_report, png_upload, reviewer):
    """A case whose image matched the programme's entry, held by `reviewer`."""
    report = submit_report(category="harassment", images=[png_upload()])
    entry = BankEntry.objects.get(value=PDQ)
    Match.objects.create(media=report.media.get(), entry=entry, signal_type="pdq", distance=3)
    return case_claim_next(user=reviewer), entry


def decide(case, reviewer, run_jobs, action="remove"):
    with run_jobs():
        return case_decide(case_id=case.pk, user=reviewer, action=action, policy="harassment")


@pytest.mark.django_db
class TestFeedback:
    def test_an_upheld_decision_is_sent_as_agreement_once(
        self, stopncii, matched_case, reviewer, run_jobs
    ):
        fake, exchange = stopncii
        case, entry = matched_case
        decision = decide(case, reviewer, run_jobs)
        feedback = ExchangeFeedback.objects.get()
        assert (feedback.entry, feedback.decision, feedback.verdict) == (entry, decision, "agree")
        assert feedback.status == "sent" and feedback.attempts == 1 and feedback.sent_at
        assert fake.feedback == [{"hashValue": PDQ, "feedbackValue": "Blocked", "tags": []}]
        # The job again (a retry, a second worker): nothing more is sent.
        assert feedback_send(feedback_id=feedback.pk) is None
        assert len(fake.feedback) == 1
        assert AuditEvent.objects.filter(verb="exchange.feedback_sent").count() == 1

    def test_no_violation_is_sent_as_disagreement(self, stopncii, matched_case, reviewer, run_jobs):
        fake, _ = stopncii
        case, _ = matched_case
        decide(case, reviewer, run_jobs, action="no_violation")
        assert ExchangeFeedback.objects.get().verdict == "disagree"
        assert fake.feedback[0]["feedbackValue"] == "NotBlocked"

    def test_a_programme_that_is_down_is_tried_again_after_a_backoff(
        self, stopncii, matched_case, reviewer, run_jobs
    ):
        fake, _ = stopncii
        case, _ = matched_case
        fake.script["SubmitFeedback"] = ["503"]
        decide(case, reviewer, run_jobs)
        feedback = ExchangeFeedback.objects.get()
        assert feedback.status == "pending" and feedback.attempts == 1
        assert "503" in feedback.last_error and feedback.next_attempt_at > timezone.now()
        assert fake.feedback == []
        with run_jobs():
            exchanges_enqueue_due(now=timezone.now())  # not yet due
        assert fake.feedback == []
        with run_jobs():
            exchanges_enqueue_due(now=feedback.next_attempt_at + timedelta(seconds=1))
        feedback.refresh_from_db()
        assert feedback.status == "sent" and feedback.attempts == 2 and len(fake.feedback) == 1

    def test_refused_credentials_give_up_at_once(
        self, stopncii, matched_case, reviewer, run_jobs, monkeypatch
    ):
        fake, _ = stopncii
        case, _ = matched_case
        monkeypatch.setenv(f"{ENV}_FEEDBACK_KEY", "wrong")
        decide(case, reviewer, run_jobs)
        feedback = ExchangeFeedback.objects.get()
        assert feedback.status == "failed" and "wrong" not in feedback.last_error
        assert AuditEvent.objects.filter(verb="exchange.feedback_failed").exists()

    def test_nothing_is_queued_when_the_exchange_sends_no_feedback(
        self, stopncii, matched_case, reviewer, run_jobs
    ):
        _, exchange = stopncii
        case, _ = matched_case
        Exchange.objects.filter(pk=exchange.pk).update(send_feedback=False)
        decide(case, reviewer, run_jobs)
        assert not ExchangeFeedback.objects.exists()

    def test_a_withdrawn_match_is_not_fed_back(self, stopncii, matched_case, reviewer, run_jobs):
        case, _ = matched_case
        Match.objects.update(withdrawn_at=timezone.now())
        decide(case, reviewer, run_jobs)
        assert not ExchangeFeedback.objects.exists()
