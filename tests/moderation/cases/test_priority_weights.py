"""Admin-set priority weights: validated, audited, cached per process, and applied to every open
case by a batched, idempotent recompute."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from moderation.audit.models import AuditEvent
from moderation.cases import reprioritise
from moderation.cases.models import Case, PriorityWeights
from moderation.cases.priority import DEFAULT_WEIGHTS, PriorityInputs, compute_priority
from moderation.cases.weights import current_weights, forget_weights
from reports.categories import SEVERITY

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def form_data(weights: PriorityWeights, **overrides) -> dict:
    data = {f"severity_{c}": v for c, v in weights.severity.items()}
    for name in DEFAULT_WEIGHTS.number_fields():
        data[name] = getattr(weights, name)
    data.update(overrides)
    return data


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.django_db
class TestWeightsRow:
    def test_it_starts_with_the_weights_in_force_before_admins_could_edit_them(self):
        row = PriorityWeights.objects.get()
        assert row.as_weights() == DEFAULT_WEIGHTS
        assert dict(row.severity) == {str(k): v for k, v in SEVERITY.items()}
        assert (row.involves_child, row.bank_match, row.known_material_match) == (200, 500, 5000)

    def test_it_refuses_a_known_material_match_that_would_not_come_first(self):
        row = PriorityWeights.objects.get()
        row.known_material_match = 1900
        with pytest.raises(ValidationError) as e:
            row.full_clean()
        assert "known_material_match" in e.value.message_dict
        assert "1,930" in e.value.message_dict["known_material_match"][0]

    def test_it_refuses_missing_unknown_and_negative_severities(self):
        row = PriorityWeights.objects.get()
        for severity, words in [
            ({**row.severity, "made_up": 5}, "Unknown categories: made_up"),
            ({k: v for k, v in row.severity.items() if k != "spam"}, "needed for: spam"),
            ({**row.severity, "spam": -1}, "needed for: spam"),
            ({**row.severity, "spam": True}, "needed for: spam"),
        ]:
            row.severity = severity
            with pytest.raises(ValidationError) as e:
                row.full_clean()
            assert words in e.value.message_dict["severity"][0]


@pytest.mark.django_db
class TestCurrentWeights:
    def test_it_reads_the_row_once_then_serves_from_memory(self, django_assert_num_queries):
        forget_weights()
        with django_assert_num_queries(2):  # the version, then the row
            current_weights()
        with django_assert_num_queries(0):
            for _ in range(50):
                current_weights()

    def test_it_reloads_when_the_version_moves(self, monkeypatch):
        forget_weights()
        assert current_weights().involves_child == 200
        PriorityWeights.objects.filter(pk=1).update(involves_child=250, version=99)
        # Within the refresh window another process's change is not seen yet ...
        assert current_weights().involves_child == 200
        # ... and is once the window has passed.
        monkeypatch.setattr("moderation.cases.weights.REFRESH_SECONDS", 0.0)
        assert current_weights().involves_child == 250


@pytest.mark.django_db
class TestWeightsAdmin:
    def test_an_admin_edits_the_weights_and_every_open_case_is_recomputed(
        self, admin_client, submit_report, reviewer, run_jobs
    ):
        from moderation.cases.services import case_claim_next
        from moderation.review.services import case_decide

        decided = submit_report(category="spam").case
        case = case_claim_next(user=reviewer)
        assert case.pk == decided.pk
        case_decide(case_id=case.pk, user=reviewer, action="no_violation", policy="spam")
        open_case = submit_report(category="harassment", involves_child=True).case
        decided_before = Case.objects.get(pk=decided.pk).priority_breakdown

        row = PriorityWeights.objects.get()
        with run_jobs():
            r = admin_client.post(
                "/admin/moderation/priorityweights/1/change/",
                form_data(row, severity_harassment=150, involves_child=260),
            )
        assert r.status_code == 302, r.content.decode()[:3000]

        row.refresh_from_db()
        assert row.severity["harassment"] == 150 and row.involves_child == 260
        assert row.version == 2
        open_case.refresh_from_db()
        assert open_case.priority == 150 + 260
        assert {"label": "involves a child", "points": 260} in open_case.priority_breakdown
        assert {"label": "category harassment or bullying", "points": 150} in (
            open_case.priority_breakdown
        )
        # Decided cases keep the breakdown they were decided with.
        assert Case.objects.get(pk=decided.pk).priority_breakdown == decided_before

        event = AuditEvent.objects.get(verb="priorityweights.changed")
        assert event.actor.username == "ada"
        assert set(event.before) == {"severity", "involves_child"}
        assert event.before["involves_child"] == 200
        assert event.before["severity"]["harassment"] == 100
        assert event.after["involves_child"] == 260
        assert event.after["severity"]["harassment"] == 150

        # New reports use the new weights at once in this process.
        fresh = submit_report(category="harassment").case
        assert fresh.priority == 150

    def test_a_bad_edit_is_refused_on_the_form_and_changes_nothing(self, admin_client):
        row = PriorityWeights.objects.get()
        r = admin_client.post(
            "/admin/moderation/priorityweights/1/change/",
            form_data(row, known_material_match=900, severity_spam=-5),
        )
        assert r.status_code == 200
        page = r.content.decode()
        assert "Ensure this value is greater than or equal to 0" in page
        assert PriorityWeights.objects.get().version == 1
        assert not AuditEvent.objects.filter(verb="priorityweights.changed").exists()

        r = admin_client.post(
            "/admin/moderation/priorityweights/1/change/",
            form_data(row, known_material_match=900),
        )
        assert "so known material always comes first" in r.content.decode()
        assert PriorityWeights.objects.get().known_material_match == 5000

    def test_the_weights_cannot_be_added_or_deleted(self, admin_client):
        assert admin_client.get("/admin/moderation/priorityweights/add/").status_code == 403
        assert admin_client.get("/admin/moderation/priorityweights/1/delete/").status_code == 403

    def test_a_supervisor_cannot_edit_the_weights(self, client, supervisor):
        supervisor.is_staff = True
        supervisor.save()
        client.force_login(supervisor)
        assert client.get("/admin/moderation/priorityweights/1/change/").status_code == 403


def relay_chained_jobs(run_jobs):
    """With Redis, a job's own enqueue waits for a commit that a test's transaction never makes:
    hand such jobs over (as production's commit would) until none are left."""
    from moderation.outbox.models import OutboxJob
    from moderation.outbox.services import relay

    while OutboxJob.objects.filter(enqueued_at__isnull=True).exists():
        with run_jobs():
            relay()


@pytest.mark.django_db
class TestRecompute:
    def test_it_works_in_batches_and_a_newer_change_supersedes_an_older_pass(
        self, submit_report, monkeypatch, run_jobs
    ):
        monkeypatch.setattr(reprioritise, "RECOMPUTE_BATCH", 3)
        cases = [submit_report(category="harassment").case for _ in range(7)]
        PriorityWeights.objects.filter(pk=1).update(
            severity={**PriorityWeights.objects.get().severity, "harassment": 170}
        )
        with run_jobs():
            from django.db import transaction

            with transaction.atomic():
                version = reprioritise.priority_weights_changed()
        relay_chained_jobs(run_jobs)
        assert {c.priority for c in Case.objects.filter(pk__in=[c.pk for c in cases])} == {170}
        # Three jobs ran: ids 1-3, 4-6, 7 (the last one found fewer than a batch and stopped).
        assert (
            reprioritise.cases_recompute_priorities(version=version, after_id=cases[-1].pk) is None
        )

        # An older pass stops once a newer change has started its own.
        with run_jobs():
            from django.db import transaction

            with transaction.atomic():
                reprioritise.priority_weights_changed()
        assert reprioritise.cases_recompute_priorities(version=version, after_id=0) is None

    def test_it_is_idempotent(self, submit_report):
        case = submit_report(category="grooming", involves_child=True).case
        version = PriorityWeights.objects.get().version
        reprioritise.cases_recompute_priorities(version=version)
        first = Case.objects.get(pk=case.pk)
        reprioritise.cases_recompute_priorities(version=version)
        again = Case.objects.get(pk=case.pk)
        assert (first.priority, first.priority_breakdown) == (
            again.priority,
            again.priority_breakdown,
        )


class TestComputeWithWeights:
    def test_it_uses_the_weights_it_is_given(self):
        from dataclasses import replace
        from types import MappingProxyType

        weights = replace(
            DEFAULT_WEIGHTS,
            severity=MappingProxyType({**DEFAULT_WEIGHTS.severity, "spam": 7}),
            per_extra_reporter=3,
        )
        score, breakdown = compute_priority(
            PriorityInputs(
                category="spam",
                involves_child=False,
                reporters_count=4,
                max_flag_score=None,
                waiting_since=NOW,
            ),
            now=NOW,
            weights=weights,
        )
        assert breakdown == [
            {"label": "4 reporters", "points": 9},
            {"label": "category spam or scam", "points": 7},
        ]
        assert score == 16
