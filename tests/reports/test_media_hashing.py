"""The hashing job on real images of every awkward kind, and what it does with bank matches."""

import io

import numpy as np
import pytest
from PIL import Image

from moderation.audit.models import AuditEvent
from moderation.banks.matching import forget_indexes
from moderation.banks.models import HashBank, Match
from moderation.banks.services import bank_import
from moderation.cases.models import Case, Queue
from reports.hashing import hash_bytes
from reports.jobs import hash_media
from reports.media import inspect_image
from tests.testdata import PDQ


@pytest.fixture(autouse=True)
def fresh_indexes():
    forget_indexes()
    yield
    forget_indexes()


def encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def gradient(size=(320, 240)) -> Image.Image:
    x = np.linspace(0, 255, size[0], dtype=np.uint8)
    y = np.linspace(0, 255, size[1], dtype=np.uint8)
    rgb = np.dstack(
        [
            np.tile(x, (size[1], 1)),
            np.tile(y[:, None], (1, size[0])),
            np.full((size[1], size[0]), 90, np.uint8),
        ]
    )
    return Image.fromarray(rgb, "RGB")


def sixteen_bit() -> Image.Image:
    """The gradient as a 16-bit greyscale image (values up to 65535)."""
    image = Image.fromarray(np.asarray(gradient().convert("L"), np.uint16) * 257)
    assert image.mode.startswith("I")
    return image


def submit_file(submit_report, data: bytes, name: str, **kwargs):
    return submit_report(images=[inspect_image(data, filename=name)], **kwargs)


@pytest.mark.django_db
class TestHashingJob:
    def test_it_stores_every_hash(self, submit_report):
        data = (PDQ / "pen-and-coaster.png").read_bytes()
        media = submit_file(submit_report, data, "pen.png").media.get()
        hash_media(media.pk)
        media.refresh_from_db()
        expected = hash_bytes(data)
        assert media.pdq == "1f811b9d267fbc6693c0c7f30e041f9df49b836303e10f067fcdfc12c02d01f9"
        assert (media.sha256, media.md5, media.phash, media.dhash, media.pdq_quality) == (
            expected["sha256"],
            expected["md5"],
            expected["phash"],
            expected["dhash"],
            100,
        )
        assert (media.width, media.height) == (924, 735)
        assert media.unhashable_reason == ""

    @pytest.mark.parametrize(
        "make",
        [
            lambda: encode(gradient().convert("CMYK"), "JPEG"),
            lambda: encode(gradient().convert("P", palette=Image.Palette.ADAPTIVE), "PNG"),
            lambda: encode(gradient().convert("1"), "PNG"),
            lambda: encode(sixteen_bit(), "PNG"),
            lambda: encode(gradient((3000, 2200)), "JPEG"),
            lambda: encode(gradient((3, 2)), "PNG"),
        ],
        ids=["cmyk", "palette", "1-bit", "16-bit", "huge", "tiny"],
    )
    def test_awkward_images_hash_like_their_rgb_original(self, submit_report, make):
        data = make()
        name = "x.jpg" if data.startswith(b"\xff\xd8") else "x.png"
        media = submit_file(submit_report, data, name).media.get()
        hash_media(media.pk)
        media.refresh_from_db()
        assert media.hashed_at and media.unhashable_reason == ""
        assert len(media.pdq) == 64 and len(media.phash) == 16

    def test_16_bit_images_are_scaled_not_clipped(self):
        grey = gradient().convert("L")
        a, b = hash_bytes(encode(grey, "PNG")), hash_bytes(encode(sixteen_bit(), "PNG"))
        assert (int(a["pdq"], 16) ^ int(b["pdq"], 16)).bit_count() <= 10

    def test_a_file_damaged_in_storage_is_flagged_not_rehashed(self, submit_report, private_media):
        media = submit_file(submit_report, encode(gradient(), "PNG"), "x.png").media.get()
        received = media.sha256
        # Damage it in storage after intake checked it (a disk error, a bad copy).
        path = private_media / media.file.name
        path.write_bytes(path.read_bytes()[:100])
        hash_media(media.pk)
        media.refresh_from_db()
        assert media.hashed_at is not None
        assert media.sha256 == received  # the evidence's identity is what was received
        assert media.pdq == ""
        assert "does not match its SHA-256" in media.unhashable_reason
        assert "unhashable" in AuditEvent.objects.get(verb="media.hashed").after

    @pytest.mark.parametrize(
        "data, reason",
        [
            (encode(gradient(), "PNG")[:200], "truncated or corrupt"),
            (b"GIF89a" + b"\x00" * 20, "not an image"),
            (b"plain text", "not an image"),
        ],
    )
    def test_undecodable_bytes_are_marked_unhashable_with_a_reason(self, data, reason):
        result = hash_bytes(data)
        assert result["sha256"] and result["md5"]
        assert reason in result["unhashable"]

    def test_a_worker_dying_halfway_leaves_nothing_and_the_retry_hashes_once(
        self, submit_report, monkeypatch
    ):
        from moderation.banks import hashing

        bank = HashBank.objects.create(name="Known", slug="known", signal_types=["md5"])
        data = encode(gradient(), "PNG")
        media = submit_file(submit_report, data, "x.png").media.get()
        bank_import(bank=bank, text="md5 " + hash_bytes(data)["md5"])

        def die(*args, **kwargs):
            raise SystemExit("worker killed")  # what a SIGTERM'd work-horse raises

        monkeypatch.setattr(hashing, "find_image_matches", die)
        with pytest.raises(SystemExit):
            hash_media(media.pk)
        media.refresh_from_db()
        assert media.hashed_at is None and media.pdq == ""
        monkeypatch.undo()
        hash_media(media.pk)
        hash_media(media.pk)
        assert Match.objects.count() == 1
        assert AuditEvent.objects.filter(verb="media.hashed").count() == 1
        assert AuditEvent.objects.filter(verb="media.matched").count() == 1


@pytest.mark.django_db
class TestBankPolicy:
    def test_a_known_material_match_puts_the_case_at_the_very_top(self, submit_report):
        data = (PDQ / "dih/bridge-1-original.jpg").read_bytes()
        bank = HashBank.objects.create(
            name="NCMEC known CSAM",
            slug="ncmec",
            signal_types=["pdq"],
            policy=HashBank.Policy.ACT_AND_ESCALATE,
        )
        bank_import(bank=bank, text="pdq " + hash_bytes(data)["pdq"])
        other = submit_report(category="csam", involves_child=True)
        rotated = (PDQ / "dih/bridge-4-rotate-270.jpg").read_bytes()
        media = submit_file(submit_report, rotated, "x.jpg", category="spam").media.get()
        hash_media(media.pk)
        case = Case.objects.get(pk=media.report.case_id)
        assert case.priority > Case.objects.get(pk=other.case_id).priority
        assert case.priority_breakdown[0] == {
            "label": "known-material match: NCMEC known CSAM",
            "points": 5000,
        }
        match = Match.objects.get()
        assert match.variant != 0 and match.distance <= 31
        event = AuditEvent.objects.get(verb="media.matched")
        assert event.after["banks"] == ["ncmec"]

    def test_a_routing_bank_moves_the_case(self, submit_report):
        data = encode(gradient(), "PNG")
        bank = HashBank.objects.create(
            name="Extremist logos",
            slug="tve",
            signal_types=["sha256"],
            policy=HashBank.Policy.ROUTE,
            route_to=Queue.objects.get(slug="child-safety"),
        )
        bank_import(bank=bank, text="sha256 " + hash_bytes(data)["sha256"])
        media = submit_file(submit_report, data, "x.png", category="spam").media.get()
        hash_media(media.pk)
        assert Case.objects.get(pk=media.report.case_id).queue.slug == "child-safety"
        assert AuditEvent.objects.get(verb="case.rerouted").actor_label == "bank tve"

    def test_the_case_page_shows_hashes_and_matches(self, client, supervisor, submit_report):
        data = encode(gradient(), "PNG")
        bank = HashBank.objects.create(name="Test bank", slug="t", signal_types=["md5"])
        bank_import(bank=bank, text="md5 " + hash_bytes(data)["md5"])
        media = submit_file(submit_report, data, "x.png").media.get()
        hash_media(media.pk)
        client.force_login(supervisor)
        page = client.get(f"/cases/{media.report.case_id}/").content.decode()
        assert media.pdq in page and media.phash in page
        assert "Test bank" in page and "distance 0" in page


@pytest.mark.django_db
def test_hash_media_command_prints_one_json_line_per_file(capsys):
    import json

    from django.core.management import call_command

    call_command(
        "hash_media", str(PDQ / "pen-and-coaster.png"), str(PDQ / "dih/bridge-1-original.jpg")
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [set(line) for line in lines] == [
        {"file", "sha256", "md5", "pdq", "pdq_quality", "phash", "dhash"}
    ] * 2
    assert lines[1]["pdq"] == "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@pytest.mark.django_db
class TestKnownMaterialPolicy:
    def test_it_requests_removal_and_suspension_and_opens_one_escalation_per_account(
        self, client, supervisor, submit_report
    ):
        from moderation.enforcement.models import EnforcementAction
        from moderation.escalations.models import Escalation

        data = (PDQ / "dih/bridge-1-original.jpg").read_bytes()
        bank = HashBank.objects.create(
            name="Known CSAM",
            slug="known",
            signal_types=["pdq"],
            policy=HashBank.Policy.ACT_AND_ESCALATE,
        )
        bank_import(bank=bank, text="pdq " + hash_bytes(data)["pdq"])
        first = submit_file(submit_report, data, "a.jpg", platform_id="post-1", owner_id="acct-9")
        second = submit_file(submit_report, data, "b.jpg", platform_id="post-2", owner_id="acct-9")
        for report in (first, second):
            hash_media(report.media.get().pk)
        actions = set(EnforcementAction.objects.values_list("kind", "target", "status"))
        assert actions == {
            ("remove_content", "post-1", "pending"),
            ("remove_content", "post-2", "pending"),
            ("suspend_account", "acct-9", "pending"),
        }
        assert EnforcementAction.objects.filter(kind="suspend_account").count() == 2  # one per case
        escalation = Escalation.objects.get()
        assert escalation.owner_id == "acct-9" and escalation.status == "draft"
        assert set(escalation.cases.values_list("pk", flat=True)) == {first.case_id, second.case_id}
        assert AuditEvent.objects.filter(verb="escalation.opened").count() == 1
        assert AuditEvent.objects.filter(verb="escalation.case_added").count() == 1
        # All of it is in front of a person.
        client.force_login(supervisor)
        page = client.get(f"/cases/{first.case_id}/").content.decode()
        assert (
            "Remove content" in page and "Suspend account" in page and "NCMEC CyberTipline" in page
        )
