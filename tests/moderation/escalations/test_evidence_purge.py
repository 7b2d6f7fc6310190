"""The purge of expired evidence: exactly what expired and is under no hold, never a stored file
something else still needs; each deletion audited with its hashes; idempotent."""

import io
from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from moderation.escalations import custody
from moderation.escalations.models import Escalation
from tests.moderation.custody_helpers import make_escalation

S = Escalation.Status


@pytest.fixture
def report(submit_report, png_upload):
    return submit_report(category="harassment", images=[png_upload()])


def stored(escalation) -> dict[str, bool]:
    """Whether the packet and each evidence file are still in storage."""
    names = {"packet": escalation.packet.name}
    names.update({f.sha256: f.media.file.name for f in escalation.files.select_related("media")})
    return {k: default_storage.exists(v) for k, v in names.items()}


def after_preservation(escalation, days=1):
    return escalation.preserve_until + timedelta(days=days)


@pytest.mark.django_db
class TestPurge:
    def test_it_deletes_the_packet_and_evidence_of_an_expired_escalation_and_audits_it(
        self, make_user, report
    ):
        escalation = make_escalation(make_user, [report], status=S.ACKNOWLEDGED)
        sha = report.media.get().sha256
        assert all(stored(escalation).values())
        results = custody.evidence_purge_expired(now=after_preservation(escalation))
        assert [r.escalation_id for r in results] == [escalation.pk]
        assert not any(stored(escalation).values())
        escalation.refresh_from_db()
        assert escalation.evidence_deleted_at == after_preservation(escalation)
        # The record of what was handed over stays.
        assert escalation.packet_sha256 and escalation.report_id
        event = AuditEvent.objects.get(verb="escalation.evidence_deleted")
        assert event.object_id == str(escalation.pk)
        assert event.actor is None
        assert event.after["packet"]["sha256"] == escalation.packet_sha256
        assert event.after["packet"]["deleted"] is True
        assert [f["sha256"] for f in event.after["deleted"]] == [sha]
        assert event.after["kept"] == []

    def test_it_leaves_evidence_still_within_its_preservation_period(self, make_user, report):
        escalation = make_escalation(make_user, [report], status=S.SUBMITTED)
        assert (
            custody.evidence_purge_expired(now=escalation.preserve_until - timedelta(hours=1)) == []
        )
        assert all(stored(escalation).values())
        assert not AuditEvent.objects.filter(verb="escalation.evidence_deleted").exists()

    def test_preservation_is_at_least_a_year(self, make_user, report):
        escalation = make_escalation(make_user, [report], status=S.SUBMITTED)
        almost = escalation.submitted_at + timedelta(days=364, hours=23)
        assert custody.evidence_purge_expired(now=almost) == []
        assert all(stored(escalation).values())

    def test_a_legal_hold_keeps_it_until_lifted(self, make_user, supervisor, report):
        escalation = make_escalation(make_user, [report], status=S.SUBMITTED)
        custody.escalation_set_legal_hold(escalation_id=escalation.pk, user=supervisor, reason="LE")
        later = after_preservation(escalation, days=900)
        assert custody.evidence_purge_expired(now=later) == []
        assert all(stored(escalation).values())
        custody.escalation_lift_legal_hold(
            escalation_id=escalation.pk, user=supervisor, reason="ok"
        )
        assert len(custody.evidence_purge_expired(now=later)) == 1
        assert not any(stored(escalation).values())

    def test_it_never_touches_evidence_that_was_not_submitted(
        self, make_user, submit_report, png_upload
    ):
        # Not preserved under 2258A: normal retention applies, the purge never selects them.
        escalations = [
            make_escalation(
                make_user,
                [submit_report(category="spam", images=[png_upload(colour=(i, 9, 9))])],
                status=status,
            )
            for i, status in enumerate([S.READY, S.WITHDRAWN])
        ]
        far = escalations[0].created_at + timedelta(days=5000)
        assert custody.evidence_purge_expired(now=far) == []
        for e in escalations:
            assert all(stored(e).values())

    def test_it_is_idempotent(self, make_user, report):
        escalation = make_escalation(make_user, [report], status=S.SUBMITTED)
        now = after_preservation(escalation)
        custody.evidence_purge_expired(now=now)
        assert custody.evidence_purge_expired(now=now) == []
        assert custody.escalation_purge_evidence(escalation_id=escalation.pk, now=now) is None
        assert AuditEvent.objects.filter(verb="escalation.evidence_deleted").count() == 1

    def test_a_file_already_missing_is_recorded_not_an_error(self, make_user, report):
        escalation = make_escalation(make_user, [report], status=S.SUBMITTED)
        default_storage.delete(report.media.get().file.name)
        result = custody.escalation_purge_evidence(
            escalation_id=escalation.pk, now=after_preservation(escalation)
        )
        assert result.deleted == [] and len(result.missing) == 1
        escalation.refresh_from_db()
        assert escalation.evidence_deleted_at is not None

    def test_dry_run_deletes_nothing(self, make_user, report):
        escalation = make_escalation(make_user, [report], status=S.SUBMITTED)
        results = custody.evidence_purge_expired(now=after_preservation(escalation), dry_run=True)
        assert len(results) == 1 and len(results[0].deleted) == 1
        assert all(stored(escalation).values())
        escalation.refresh_from_db()
        assert escalation.evidence_deleted_at is None
        assert not AuditEvent.objects.filter(verb="escalation.evidence_deleted").exists()


@pytest.mark.django_db
class TestSharedFiles:
    """The same bytes are stored once and may belong to several cases and escalations."""

    def same_image_again(self, submit_report, png_upload):
        return submit_report(category="harassment", images=[png_upload()])

    def test_it_keeps_a_file_an_open_case_still_needs(
        self, make_user, report, submit_report, png_upload
    ):
        escalation = make_escalation(make_user, [report], status=S.SUBMITTED)
        other = self.same_image_again(submit_report, png_upload)
        assert other.case_id != report.case_id
        assert other.media.get().file.name == report.media.get().file.name
        result = custody.escalation_purge_evidence(
            escalation_id=escalation.pk, now=after_preservation(escalation)
        )
        assert result.deleted == [] and result.packet["deleted"] is True
        assert f"case {other.case_id} is still open" in result.kept[0]["reason"]
        assert default_storage.exists(report.media.get().file.name)
        event = AuditEvent.objects.get(verb="escalation.evidence_deleted")
        assert event.after["kept"][0]["sha256"] == report.media.get().sha256

    def test_it_keeps_a_file_a_decided_case_outside_any_report_holds(
        self, make_user, report, submit_report, png_upload
    ):
        escalation = make_escalation(make_user, [report], status=S.SUBMITTED)
        other = self.same_image_again(submit_report, png_upload)
        Case.objects.filter(pk=other.case_id).update(
            status=Case.Status.DECIDED, decided_at=timezone.now()
        )
        result = custody.escalation_purge_evidence(
            escalation_id=escalation.pk, now=after_preservation(escalation)
        )
        assert "normal retention" in result.kept[0]["reason"]
        assert default_storage.exists(report.media.get().file.name)

    def test_it_keeps_a_file_another_preserved_escalation_holds(
        self, make_user, report, submit_report, png_upload
    ):
        first = make_escalation(make_user, [report], status=S.SUBMITTED)
        second = make_escalation(
            make_user, [self.same_image_again(submit_report, png_upload)], status=S.SUBMITTED
        )
        # The second was submitted later: still preserved when the first expires.
        Escalation.objects.filter(pk=second.pk).update(
            preserve_until=first.preserve_until + timedelta(days=200)
        )
        now = after_preservation(first)
        results = custody.evidence_purge_expired(now=now)
        assert [r.escalation_id for r in results] == [first.pk]
        assert f"escalation {second.pk}" in results[0].kept[0]["reason"]
        assert all(stored(second).values())
        # Once the second expires too, the file goes.
        later = now + timedelta(days=201)
        results = custody.evidence_purge_expired(now=later)
        assert [r.escalation_id for r in results] == [second.pk]
        assert not any(stored(second).values())

    def test_a_held_escalation_keeps_a_shared_file(
        self, make_user, supervisor, report, submit_report, png_upload
    ):
        first = make_escalation(make_user, [report], status=S.SUBMITTED)
        second = make_escalation(
            make_user, [self.same_image_again(submit_report, png_upload)], status=S.SUBMITTED
        )
        custody.escalation_set_legal_hold(escalation_id=second.pk, user=supervisor, reason="LE")
        results = custody.evidence_purge_expired(now=after_preservation(second, days=30))
        assert [r.escalation_id for r in results] == [first.pk]
        assert f"escalation {second.pk}" in results[0].kept[0]["reason"]
        assert all(stored(second).values())

    def test_two_expired_escalations_sharing_a_file_both_release_it(
        self, make_user, report, submit_report, png_upload
    ):
        first = make_escalation(make_user, [report], status=S.SUBMITTED)
        second = make_escalation(
            make_user, [self.same_image_again(submit_report, png_upload)], status=S.SUBMITTED
        )
        results = custody.evidence_purge_expired(now=after_preservation(second))
        assert [r.escalation_id for r in results] == [first.pk, second.pk]
        # The first deletes it (the other case is covered by an expired report), the second
        # finds it gone.
        assert [(len(r.deleted), len(r.missing)) for r in results] == [(1, 0), (0, 1)]
        assert not default_storage.exists(report.media.get().file.name)

    def test_a_withdrawn_escalation_does_not_keep_a_file_alive(
        self, make_user, report, submit_report, png_upload
    ):
        escalation = make_escalation(make_user, [report], status=S.SUBMITTED)
        # The same case was in an earlier escalation that was withdrawn.
        withdrawn = make_escalation(make_user, [], status=S.WITHDRAWN)
        withdrawn.cases.add(report.case_id)
        result = custody.escalation_purge_evidence(
            escalation_id=escalation.pk, now=after_preservation(escalation)
        )
        assert len(result.deleted) == 1 and result.kept == []


@pytest.mark.django_db
class TestCommand:
    def test_it_purges_what_expired(self, make_user, report):
        escalation = make_escalation(make_user, [report], status=S.SUBMITTED)
        out = io.StringIO()
        with mock.patch(
            "moderation.escalations.custody.timezone.now",
            return_value=after_preservation(escalation),
        ):
            call_command("purge_expired_evidence", "--dry-run", stdout=out)
            assert all(stored(escalation).values())
            assert (
                f"escalation {escalation.pk}: would delete packet and 1 file(s)" in out.getvalue()
            )
            call_command("purge_expired_evidence", stdout=out)
        assert not any(stored(escalation).values())
        assert "1 escalation(s) purged." in out.getvalue()
