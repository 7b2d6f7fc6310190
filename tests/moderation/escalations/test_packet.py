"""Assembling an escalation's packet: contents, hashes, determinism, progress, and its faults."""

import hashlib
import threading
import zipfile
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.escalations import cybertip, packet_zip
from moderation.escalations.models import Escalation, EscalationFile
from moderation.escalations.packet import (
    INVALID_REASON,
    _assembly_lock,
    escalation_assemble,
    escalation_retry_assembly,
    escalations_requeue_stale,
    packet_name,
)
from moderation.review.services import media_record_view
from tests.moderation.packet_helpers import approved, packet_bytes, packet_entries, packet_json

__all__ = ["approved"]


def assemble(escalation) -> Escalation:
    escalation_assemble(escalation_id=escalation.pk)
    escalation.refresh_from_db()
    return escalation


def reassemble(escalation) -> Escalation:
    """Back to ASSEMBLING with the packet gone, as if this were the first run again."""
    default_storage.delete(escalation.packet.name)
    Escalation.objects.filter(pk=escalation.pk).update(status="assembling", packet_sha256="")
    return assemble(escalation)


def leftovers() -> list[str]:
    """What is in the packets folder (the lock files of the embedded mode aside)."""
    folder = Path(default_storage.path("packets"))
    return (
        sorted(p.name for p in folder.glob("*") if p.suffix != ".lock") if folder.exists() else []
    )


@pytest.mark.django_db
class TestAssembly:
    def test_it_makes_a_ready_packet_with_every_part_in_a_fixed_order(self, approved):
        escalation = assemble(approved(cases=2, images=2))
        assert escalation.status == "ready"
        files = list(escalation.files.order_by("name"))
        assert len(files) == 4
        assert [f.name.split("-")[0] for f in files] == [f"files/{n:04d}" for n in range(1, 5)]
        names = list(packet_entries(escalation))
        assert names == [
            "report.xml",
            *[f"fileDetails/{n:04d}.xml" for n in range(1, 5)],
            *[f.name for f in files],
            "summary.json",
            "manifest.json",
        ]

    def test_its_hash_size_and_manifest_are_those_of_the_stored_zip(self, approved):
        escalation = assemble(approved())
        data = packet_bytes(escalation)
        assert escalation.packet.name == packet_name(escalation.pk)
        assert escalation.packet_sha256 == hashlib.sha256(data).hexdigest()
        assert escalation.packet_size == len(data)
        entries = packet_entries(escalation)
        manifest = packet_json(escalation, "manifest.json")
        listed = {f["name"]: (f["sha256"], f["size"]) for f in manifest["files"]}
        assert set(listed) == set(entries) - {"manifest.json"}
        for name, (sha, size) in listed.items():
            assert hashlib.sha256(entries[name]).hexdigest() == sha and len(entries[name]) == size
        # The escalation keeps every entry's hash, the manifest's own too.
        manifest_sha = hashlib.sha256(entries["manifest.json"]).hexdigest()
        assert escalation.manifest == {
            **{name: sha for name, (sha, _) in listed.items()},
            "manifest.json": manifest_sha,
        }

    def test_the_evidence_is_the_bytes_that_were_reported(self, approved):
        escalation = assemble(approved(images=2))
        entries = packet_entries(escalation)
        for f in escalation.files.select_related("media"):
            with default_storage.open(f.media.file.name, "rb") as original:
                assert entries[f.name] == original.read()
            assert f.sha256 == f.media.sha256 and f.name.endswith(".png")

    def test_it_records_the_hash_in_the_audit_log(self, approved):
        escalation = assemble(approved())
        event = AuditEvent.objects.get(verb="escalation.assembled")
        assert event.object_id == str(escalation.pk)
        assert event.after["packet_sha256"] == escalation.packet_sha256

    def test_entries_are_stored_with_fixed_times_and_permissions(self, approved):
        escalation = assemble(approved())
        with zipfile.ZipFile(default_storage.open(escalation.packet.name, "rb")) as z:
            infos = z.infolist()
        when = escalation.approved_at.astimezone(UTC).timetuple()[:5]
        for info in infos:
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.date_time[:5] == when
            assert info.external_attr >> 16 == 0o100644

    def test_the_progress_ends_complete(self, approved):
        escalation = assemble(approved(images=3))
        assert escalation.progress_total == 3 + 2
        assert escalation.progress_done == escalation.progress_total

    def test_file_viewed_by_esp_comes_from_the_media_view_log(self, approved, reviewer):
        escalation = approved(images=2)
        case = escalation.cases.get()
        media = list(case.content_item.media.order_by("pk"))
        media_record_view(media=media[1], case=case, user=reviewer)
        escalation = assemble(escalation)
        viewed = dict(escalation.files.values_list("media_id", "viewed_by_esp"))
        assert viewed == {media[0].pk: False, media[1].pk: True}
        assert [f["viewed_by_esp"] for f in packet_json(escalation, "summary.json")["files"]] == [
            False,
            True,
        ]

    def test_the_summary_never_names_who_reported(self, approved):
        escalation = assemble(
            approved(
                reporter_email="worried.parent@example.org",
                reporter_account_id="reporter-account-991",
                reporter_ip="203.0.113.77",
                description="I am the reporter and my phone is 555-0199",
            )
        )
        everything = b"".join(packet_entries(escalation).values())
        for secret in (b"worried.parent", b"reporter-account-991", b"203.0.113.77", b"555-0199"):
            assert secret not in everything
        summary = packet_json(escalation, "summary.json")
        assert summary["reported_account"]["platform_id"] == "acct-7"
        assert summary["approval"]["approved_by"] == escalation.approved_by.username
        assert summary["cases"][0]["decisions"][0]["action"] == "escalate"

    def test_one_file_per_distinct_image(self, approved, submit_report, png_upload, run_jobs):
        escalation = approved(images=1)
        case = escalation.cases.get()
        # The same image reported again about the same post: a second Media, the same bytes.
        with run_jobs():
            submit_report(
                category="harassment",
                platform_id=case.content_item.platform_id,
                owner_id="acct-7",
                images=[png_upload(name="again.png", colour=(30, 0, 7))],
            )
        Escalation.objects.filter(pk=escalation.pk).update(approved_at=timezone.now())
        escalation = assemble(escalation)
        assert case.content_item.media.count() == 2
        assert escalation.files.count() == 1


@pytest.mark.django_db
class TestIdempotence:
    def test_running_it_twice_makes_one_packet_with_one_hash(self, approved):
        escalation = assemble(approved())
        first = (escalation.packet_sha256, escalation.assembled_at)
        assert escalation_assemble(escalation_id=escalation.pk) is None
        escalation.refresh_from_db()
        assert (escalation.packet_sha256, escalation.assembled_at) == first
        assert AuditEvent.objects.filter(verb="escalation.assembled").count() == 1
        assert EscalationFile.objects.filter(escalation=escalation).count() == 2

    def test_it_leaves_an_escalation_that_is_not_assembling_alone(self, approved):
        escalation = approved()
        Escalation.objects.filter(pk=escalation.pk).update(status="withdrawn")
        assert escalation_assemble(escalation_id=escalation.pk) is None
        assert not escalation.files.exists() and not default_storage.exists("packets/x")

    def test_assembling_again_gives_the_same_bytes(self, approved):
        escalation = assemble(approved(cases=2))
        first = (escalation.packet_sha256, escalation.manifest, packet_bytes(escalation))
        escalation = reassemble(escalation)
        assert (escalation.packet_sha256, escalation.manifest, packet_bytes(escalation)) == first

    def test_a_worker_killed_mid_copy_leaves_nothing_and_the_retry_is_identical(
        self, approved, monkeypatch
    ):
        escalation = assemble(approved(images=3))
        reference = (escalation.packet_sha256, escalation.manifest)
        default_storage.delete(escalation.packet.name)
        Escalation.objects.filter(pk=escalation.pk).update(status="assembling", packet_sha256="")

        class Killed(BaseException):
            """Stands for SIGKILL: not an Exception, nothing may catch it as a failure."""

        copies = []
        real_copy = packet_zip.copy_chunks

        def dies_on_the_second_file(source, target, hasher):
            copies.append(1)
            if len(copies) == 2:
                target.write(source.read(100))
                raise Killed
            return real_copy(source, target, hasher)

        monkeypatch.setattr(packet_zip, "copy_chunks", dies_on_the_second_file)
        with pytest.raises(Killed):
            escalation_assemble(escalation_id=escalation.pk)
        escalation.refresh_from_db()
        assert escalation.status == "assembling" and escalation.packet_sha256 == ""
        assert 0 < escalation.progress_done < escalation.progress_total
        assert not default_storage.exists(packet_name(escalation.pk))
        # A real SIGKILL runs no cleanup: its half-written file is still there for the retry.
        with open(
            default_storage.path(f"packets/.escalation-{escalation.pk}-dead.part"), "wb"
        ) as f:
            f.write(b"PK\x03\x04 half a packet")

        monkeypatch.setattr(packet_zip, "copy_chunks", real_copy)
        escalation = assemble(escalation)
        assert escalation.status == "ready"
        assert (escalation.packet_sha256, escalation.manifest) == reference
        assert hashlib.sha256(packet_bytes(escalation)).hexdigest() == reference[0]
        assert leftovers() == [f"escalation-{escalation.pk}.zip"]

    def test_a_second_worker_leaves_it_to_the_one_assembling(self, approved):
        escalation = approved()
        holding, release = threading.Event(), threading.Event()

        def other_worker():
            try:
                with _assembly_lock(escalation.pk) as held:
                    assert held
                    holding.set()
                    release.wait(10)
            finally:
                connection.close()

        thread = threading.Thread(target=other_worker)
        thread.start()
        try:
            assert holding.wait(10)
            assert escalation_assemble(escalation_id=escalation.pk) is None
            escalation.refresh_from_db()
            assert escalation.status == "assembling" and not escalation.files.exists()
        finally:
            release.set()
            thread.join()
        assert assemble(escalation).status == "ready"


@pytest.mark.django_db
class TestFaults:
    def assert_failed_without_packet(self, escalation):
        assert escalation.status == "failed"
        assert escalation.packet_sha256 == "" and not escalation.packet
        assert leftovers() == []
        assert not AuditEvent.objects.filter(verb="escalation.assembled").exists()
        event = AuditEvent.objects.get(verb="escalation.assembly_failed")
        assert event.after["reason"] == escalation.failure_reason

    def test_a_missing_evidence_file_fails_it_naming_the_file_and_case(self, approved):
        escalation = approved(images=2)
        case = escalation.cases.get()
        gone = case.content_item.media.order_by("pk").last()
        default_storage.delete(gone.file.name)
        escalation = assemble(escalation)
        self.assert_failed_without_packet(escalation)
        missing = escalation.files.get(media=gone)
        assert "missing" in escalation.failure_reason
        assert missing.name in escalation.failure_reason
        assert f"case {case.pk}" in escalation.failure_reason

    def test_a_corrupt_evidence_file_fails_it_with_both_hashes(self, approved):
        escalation = approved(images=2)
        media = escalation.cases.get().content_item.media.order_by("pk").first()
        path = default_storage.path(media.file.name)
        data = bytearray(Path(path).read_bytes())
        data[-20] ^= 0xFF  # one flipped byte, same length
        with open(path, "wb") as f:
            f.write(data)
        escalation = assemble(escalation)
        self.assert_failed_without_packet(escalation)
        assert "corrupt" in escalation.failure_reason
        assert escalation.files.get(media=media).name in escalation.failure_reason
        assert escalation.failure_details[0] == f"expected SHA-256 {media.sha256}"
        assert hashlib.sha256(data).hexdigest() in escalation.failure_details[1]

    def test_a_corrupt_file_before_a_missing_one_is_the_one_reported(self, approved):
        # Evidence is checked as its hash finishes, beside the next copies: still the first
        # problem in the packet's order is the one reported.
        escalation = approved(images=2)
        first, last = escalation.cases.get().content_item.media.order_by("pk")
        path = Path(default_storage.path(first.file.name))
        # Long enough that its hash is still running when the next file turns out missing.
        path.write_bytes(path.read_bytes() + bytes(24 * packet_zip.CHUNK_BYTES))
        default_storage.delete(last.file.name)
        escalation = assemble(escalation)
        self.assert_failed_without_packet(escalation)
        assert "corrupt" in escalation.failure_reason
        assert escalation.files.get(media=first).name in escalation.failure_reason

    def test_a_report_that_does_not_validate_fails_it_with_each_error(self, approved, monkeypatch):
        monkeypatch.setattr(cybertip, "report_xml", lambda escalation: b"<report><bogus/></report>")
        escalation = assemble(approved())
        self.assert_failed_without_packet(escalation)
        assert escalation.failure_reason == INVALID_REASON
        assert escalation.failure_details
        assert all(d.startswith("report.xml: ") for d in escalation.failure_details)
        assert escalation.failure_details == [
            f"report.xml: {e}" for e in cybertip.validate(b"<report><bogus/></report>")
        ]

    def test_a_supervisor_assembles_it_again_once_the_file_is_back(
        self, approved, supervisor, run_jobs
    ):
        escalation = approved()
        media = escalation.cases.get().content_item.media.order_by("pk").first()
        kept = default_storage.open(media.file.name, "rb").read()
        default_storage.delete(media.file.name)
        assert assemble(escalation).status == "failed"
        default_storage.save(media.file.name, ContentFile(kept))
        with run_jobs():
            escalation_retry_assembly(escalation_id=escalation.pk, user=supervisor)
        escalation.refresh_from_db()
        assert escalation.status == "ready" and escalation.failure_reason == ""
        retried = AuditEvent.objects.get(verb="escalation.assembly_retried")
        assert retried.actor == supervisor and retried.before["status"] == "failed"

    def test_only_a_failed_assembly_can_be_retried(self, approved, supervisor, reviewer):
        escalation = assemble(approved())
        with pytest.raises(ValidationError, match="only an escalation whose packet"):
            escalation_retry_assembly(escalation_id=escalation.pk, user=supervisor)
        Escalation.objects.filter(pk=escalation.pk).update(
            status="failed", failure_reason="x", packet_sha256=""
        )
        with pytest.raises(ValidationError, match="supervisor"):
            escalation_retry_assembly(escalation_id=escalation.pk, user=reviewer)


@pytest.mark.django_db
def test_evidence_not_hashed_yet_is_left_for_the_jobs_retry(approved):
    from moderation.escalations.packet import EvidenceNotHashed
    from reports.models import Media

    escalation = approved()
    Media.objects.filter(content_item__cases__escalations=escalation).update(
        sha256="", hashed_at=None
    )
    with pytest.raises(EvidenceNotHashed):
        escalation_assemble(escalation_id=escalation.pk)
    escalation.refresh_from_db()
    assert escalation.status == "assembling" and not escalation.files.exists()
    assert escalation.progress_step == "Waiting for the evidence to be hashed"


@pytest.mark.django_db
class TestStaleSweep:
    def test_it_queues_again_an_assembly_whose_job_was_lost(self, approved, run_jobs):
        escalation = approved()
        Escalation.objects.filter(pk=escalation.pk).update(
            updated_at=timezone.now() - timedelta(minutes=11)
        )
        with run_jobs():
            assert escalations_requeue_stale() == 1
        escalation.refresh_from_db()
        assert escalation.status == "ready"

    def test_it_leaves_a_live_assembly_alone(self, approved, run_jobs):
        escalation = approved()
        with run_jobs():
            assert escalations_requeue_stale() == 0
        escalation.refresh_from_db()
        assert escalation.status == "assembling"
