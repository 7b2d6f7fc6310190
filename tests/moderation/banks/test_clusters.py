import io

import numpy as np
import pytest
from PIL import Image

from moderation.banks.clusters import forget_media_hashes
from moderation.banks.models import Cluster
from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide
from reports.jobs import hash_media
from reports.media import inspect_image
from reports.models import Media
from tests.testdata import PDQ


def picture(seed: int, mark: int = 0) -> bytes:
    """A textured picture; `mark` draws a small change, like a re-encoded or annotated copy."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    image = Image.fromarray(base).resize((320, 240), Image.Resampling.BICUBIC)
    pixels = np.asarray(image).copy()
    pixels[5 : 5 + 4 * mark, 5:20] = 255
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def report_with(submit_report, data: bytes, name="x.png", **kwargs):
    report = submit_report(images=[inspect_image(data, filename=name)], **kwargs)
    hash_media(report.media.get().pk)
    return report


@pytest.mark.django_db
class TestClusters:
    def test_near_duplicates_share_a_cluster_and_strangers_do_not(self, submit_report):
        a = report_with(submit_report, picture(1))
        b = report_with(submit_report, picture(1, mark=1))
        c = report_with(submit_report, picture(2))
        ma, mb, mc = (r.media.get() for r in (a, b, c))
        assert ma.cluster_id is not None and ma.cluster_id == mb.cluster_id
        assert mc.cluster_id is None
        assert Cluster.objects.count() == 1

    def test_a_rotated_copy_joins_the_cluster(self, submit_report):
        a = report_with(submit_report, (PDQ / "dih/bridge-1-original.jpg").read_bytes(), "a.jpg")
        b = report_with(submit_report, (PDQ / "dih/bridge-6-flipy.jpg").read_bytes(), "b.jpg")
        assert a.media.get().cluster_id == b.media.get().cluster_id is not None

    def test_media_hashed_by_another_worker_is_seen(self, submit_report):
        a = report_with(submit_report, picture(3))
        forget_media_hashes()  # as a different process would start
        b = report_with(submit_report, picture(3, mark=1))
        assert a.media.get().cluster_id == b.media.get().cluster_id is not None

    def test_a_media_bridging_two_clusters_merges_them(self, submit_report, png_upload):
        from django.db import transaction
        from django.utils import timezone

        from moderation.banks.clusters import cluster_lock, media_assign_cluster

        # Hashes chosen by hand: A and C are 40 bits apart (two clusters); M is 20 from each.
        a = (1 << 255) - 12345
        differing = list(range(0, 80, 2))  # 40 bit positions
        c = a
        for bit in differing:
            c ^= 1 << bit
        m = a
        for bit in differing[:20]:
            m ^= 1 << bit
        first, second = Cluster.objects.create(), Cluster.objects.create()
        media = [submit_report(images=[png_upload(colour=(i, i, i))]).media.get() for i in range(3)]
        for row, value, cluster in (
            (media[0], a, first),
            (media[1], c, second),
            (media[2], m, None),
        ):
            Media.objects.filter(pk=row.pk).update(
                pdq=f"{value:064x}", pdq_quality=100, hashed_at=timezone.now(), cluster=cluster
            )
        bridge = Media.objects.get(pk=media[2].pk)
        with transaction.atomic():
            cluster_lock()
            joined = media_assign_cluster(media=bridge, variants=[bridge.pdq])
        assert joined == first
        assert set(Media.objects.values_list("cluster_id", flat=True)) == {first.pk}
        assert not Cluster.objects.filter(pk=second.pk).exists()

    def test_the_case_page_lists_the_other_cases_and_their_decisions(
        self, client, reviewer, submit_report
    ):
        a = report_with(submit_report, picture(6), category="spam")
        b = report_with(submit_report, picture(6, mark=1), category="spam")
        case = case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action="remove", policy="spam")
        other = b.case_id if case.pk == a.case_id else a.case_id
        client.force_login(reviewer)
        page = client.get(f"/cases/{other}/").content.decode()
        assert "1 other case shares this media" in page
        assert f"Case {case.pk}" in page and "Remove content" in page


@pytest.mark.django_db
def test_the_api_shows_the_cluster_to_reviewers(client, reviewer, submit_report):
    from accounts.services import api_token_create

    a = report_with(submit_report, picture(7))
    report_with(submit_report, picture(7, mark=1))
    token = api_token_create(user=reviewer, name="t")[1]
    body = client.get(f"/api/v1/cases/{a.case_id}", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert body["cluster"]["other_cases"] == 1
    assert body["cluster"]["recent"][0]["decision"] is None


@pytest.mark.django_db
class TestClusterDecision:
    def make_cluster(self, submit_report, n=3, **kwargs):
        reports = [
            report_with(submit_report, picture(8, mark=i), category="spam", **kwargs)
            for i in range(n)
        ]
        return [r.case_id for r in reports]

    def test_it_asks_first_then_decides_every_case(self, client, reviewer, submit_report):
        from moderation.cases.models import Case
        from moderation.decisions.models import Decision

        case_ids = self.make_cluster(submit_report)
        held = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        decision = {"action": "remove", "policy": "spam"}
        r = client.post(f"/cases/{held.pk}/decide-cluster/", decision)
        assert r.status_code == 200
        assert Decision.objects.count() == 0  # nothing before the confirmation
        others = [c for c in case_ids if c != held.pk]
        assert [o.pk for o in r.context["others"]] == sorted(others)
        r = client.post(
            f"/cases/{held.pk}/decide-cluster/",
            {**decision, "confirmed": "yes", "cases": others},
            follow=True,
        )
        assert b"Decision recorded on 3 cases" in r.content
        assert set(Case.objects.values_list("status", flat=True)) == {"decided"}
        assert Decision.objects.filter(reviewer=reviewer, action="remove").count() == 3

    def test_it_refuses_when_the_cluster_changed_since_confirming(
        self, client, reviewer, submit_report
    ):
        from moderation.decisions.models import Decision

        case_ids = self.make_cluster(submit_report)
        held = case_claim_next(user=reviewer)
        others = [c for c in case_ids if c != held.pk]
        report_with(submit_report, picture(8, mark=5), category="spam")  # a new copy arrives
        client.force_login(reviewer)
        r = client.post(
            f"/cases/{held.pk}/decide-cluster/",
            {"action": "remove", "policy": "spam", "confirmed": "yes", "cases": others},
            follow=True,
        )
        assert b"The cluster changed since you confirmed it" in r.content
        assert Decision.objects.count() == 0

    def test_it_leaves_out_cases_another_reviewer_holds(
        self, client, reviewer, make_user, submit_report
    ):
        self.make_cluster(submit_report)
        held = case_claim_next(user=reviewer)
        other_reviewer = make_user("other")
        taken = case_claim_next(user=other_reviewer)
        client.force_login(reviewer)
        r = client.post(f"/cases/{held.pk}/decide-cluster/", {"action": "remove", "policy": "spam"})
        assert taken.pk not in [o.pk for o in r.context["others"]]
        assert len(r.context["others"]) == 1


def test_the_in_memory_hashes_grow_without_losing_any():
    from moderation.banks.clusters import _MediaHashes

    hashes = _MediaHashes()
    rows = [(i, f"{i:064x}") for i in range(1, 3001)]
    for start in range(0, 3000, 700):
        hashes.add(rows[start : start + 700])
    hashes.add(rows[:10])  # already known: ignored
    assert hashes.size == 3000
    assert hashes.near([f"{2500:064x}"], 0) == {2500}
