"""Bank validation, what a hash lookup may disclose, and retroactive matching of received media."""

import io
import json

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from moderation.audit.models import AuditEvent
from moderation.banks.matching import find_matches
from moderation.banks.models import BankEntry, HashBank
from moderation.banks.services import bank_export, bank_import
from reports.hashing import hash_bytes
from reports.jobs import hash_media
from reports.media import inspect_image
from tests.api_helpers import auth, token_for
from tests.testdata import PDQ


def jpeg_with_orientation(value: int) -> bytes:
    image = Image.new("RGB", (64, 48), (120, 30, 200))
    exif = Image.Exif()
    exif[0x0112] = value
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


@pytest.mark.django_db
def test_an_out_of_range_exif_orientation_cannot_stop_hashing(submit_report):
    media = submit_report(
        images=[inspect_image(jpeg_with_orientation(40000), filename="x.jpg")]
    ).media.get()
    hash_media(media.pk)  # a smallint overflow on PostgreSQL once rolled this back, forever
    media.refresh_from_db()
    assert media.hashed_at is not None and media.exif_orientation is None
    assert hash_bytes(jpeg_with_orientation(6))["exif_orientation"] == 6


@pytest.mark.django_db
class TestBankValidation:
    @pytest.mark.parametrize(
        "thresholds",
        [{"pdq": "31x"}, {"pdq": 500}, {"pdq": -1}, {"md5": 3}, {"pdq": True}, ["pdq"]],
    )
    def test_bad_thresholds_are_refused(self, thresholds):
        bank = HashBank(name="b", slug="b", signal_types=["pdq"], thresholds=thresholds)
        with pytest.raises(ValidationError):
            bank.full_clean()

    def test_a_bad_threshold_already_stored_does_not_stop_matching(self):
        bank = HashBank.objects.create(name="b", slug="b", signal_types=["pdq"])
        bank_import(bank=bank, text="pdq " + "ab" * 32)
        HashBank.objects.filter(pk=bank.pk).update(thresholds={"pdq": "31x"})
        from moderation.banks.models import BankVersion

        BankVersion.bump()
        from moderation.banks.matching import forget_indexes

        forget_indexes()
        # Degrades to exact matching rather than failing every hashing job.
        assert len(find_matches(pdq_variants=["ab" * 32])) == 1


@pytest.mark.django_db
def test_labels_survive_export_and_import():
    bank = HashBank.objects.create(name="b", slug="b", signal_types=["pdq"])
    bank_import(bank=bank, text="pdq," + "ab" * 32 + ",csam,a1")
    exported = "".join(bank_export(bank=bank))
    copy = HashBank.objects.create(name="c", slug="c", signal_types=["pdq"])
    bank_import(bank=copy, text=exported)
    assert BankEntry.objects.get(bank=copy).labels == ["csam", "a1"]


@pytest.mark.django_db
class TestLookupDisclosure:
    def test_each_bank_appears_once_and_lookups_are_audited_and_limited(
        self, client, make_user, settings
    ):
        bank = HashBank.objects.create(name="Known", slug="known", signal_types=["pdq"])
        near = "ab" * 32
        other = f"{int(near, 16) ^ 0b111:064x}"
        bank_import(bank=bank, text=f"pdq {near}\npdq {other}")
        token = token_for(make_user)
        settings.HASH_LOOKUPS_PER_MINUTE = 2
        body = {"signal_type": "pdq", "hash": near}

        def lookup():
            return client.post(
                "/api/v1/hashes/lookup",
                data=json.dumps(body),
                content_type="application/json",
                **auth(token),
            )

        r = lookup()
        assert [m["bank"] for m in r.json()["matches"]] == ["known"]
        assert r.json()["matches"][0]["distance"] == 0
        assert AuditEvent.objects.filter(verb="hash.lookup").count() == 1
        assert lookup().status_code == 200
        assert lookup().status_code == 429


@pytest.mark.django_db
def test_cluster_decisions_leave_out_cases_the_reviewer_skipped(reviewer, submit_report):
    from moderation.cases.services import case_claim_next, case_release
    from moderation.review.cluster_decisions import cluster_open_cases
    from tests.moderation.banks.test_clusters import picture, report_with

    a = report_with(submit_report, picture(9), category="spam")
    b = report_with(submit_report, picture(9, mark=1), category="spam")
    first = case_claim_next(user=reviewer)
    case_release(case_id=first.pk, user=reviewer)
    held = case_claim_next(user=reviewer)
    assert held.pk != first.pk
    assert cluster_open_cases(case=held, user=reviewer) == []
    assert {a.case_id, b.case_id} == {first.pk, held.pk}


@pytest.mark.django_db
class TestRetroactiveMatching:
    def test_media_received_before_its_hash_was_listed_is_matched_when_it_is(
        self, submit_report, run_jobs
    ):

        from moderation.banks.models import Match
        from moderation.cases.models import Case
        from moderation.escalations.models import Escalation

        data = (PDQ / "dih/bridge-1-original.jpg").read_bytes()
        with run_jobs():
            report = submit_report(
                images=[inspect_image(data, filename="a.jpg")], owner_id="acct-1", platform_id="p-1"
            )
        assert Match.objects.count() == 0
        bank = HashBank.objects.create(
            name="Known",
            slug="known",
            signal_types=["pdq", "md5"],
            policy=HashBank.Policy.ACT_AND_ESCALATE,
        )
        with run_jobs():
            bank_import(
                bank=bank, text=f"pdq {hash_bytes(data)['pdq']}\nmd5 {hash_bytes(data)['md5']}"
            )
        assert Match.objects.filter(media__report=report).count() == 2
        case = Case.objects.get(pk=report.case_id)
        assert case.bank_match_level == 2  # known material
        assert Escalation.objects.get().owner_id == "acct-1"
        # Importing again adds nothing and matches nothing twice.
        with run_jobs():
            bank_import(bank=bank, text=f"pdq {hash_bytes(data)['pdq']}")
        assert Match.objects.count() == 2

    def test_with_no_media_received_the_entries_are_not_read(
        self, submit_report, django_assert_max_num_queries
    ):
        from moderation.banks.hashing import bank_rematch

        bank = HashBank.objects.create(name="Known", slug="known", signal_types=["pdq", "md5"])
        bank_import(bank=bank, text="pdq " + "ab" * 32 + "\nmd5 " + "cd" * 16)
        added_at = bank.entries.first().added_at.isoformat()
        submit_report()  # a report without media
        # No index of the imported entries is built (153 s for 10M entries, measured).
        with django_assert_max_num_queries(5):  # PostgreSQL: the wait (a lock, savepoint)
            assert bank_rematch(bank_id=bank.pk, added_at=added_at) == 0
