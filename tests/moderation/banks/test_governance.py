"""Match governance: allow-list banks suppress the other banks' matches of the same media, the
flood guard quarantines an entry matching too many media before its policy acts again, and
withdrawn entries' matches stop counting (moderation/banks/governance.py)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.banks.governance import matches_record
from moderation.banks.matching import Hit, forget_indexes
from moderation.banks.models import BankEntry, BankVersion, HashBank, Match
from moderation.banks.services import (
    bank_entries_withdraw,
    bank_entry_release,
    bank_entry_remove,
    bank_import,
)
from moderation.cases.models import Case
from moderation.cases.priority import BankMatch
from moderation.cases.routing import case_route_input
from moderation.enforcement.models import EnforcementAction
from moderation.escalations.models import Escalation
from reports.hashing import hash_bytes
from tests.moderation.signals import known_bank, known_image, report_image


@pytest.fixture(autouse=True)
def fresh_indexes():
    forget_indexes()
    yield
    forget_indexes()


def allow_list(*, policy=HashBank.Policy.RAISE_PRIORITY, import_now=True) -> HashBank:
    bank = HashBank.objects.create(
        name="Memes and logos",
        slug="memes",
        signal_types=["pdq", "md5"],
        policy=policy,
        is_allow_list=True,
    )
    if import_now:
        bank_import(bank=bank, text="pdq " + hash_bytes(known_image())["pdq"])
    return bank


def case_of(report) -> Case:
    return Case.objects.select_related("queue").get(pk=report.case_id)


def acted_on(report) -> bool:
    return (
        EnforcementAction.objects.filter(case_id=report.case_id).exists()
        or Escalation.objects.filter(cases=report.case_id).exists()
    )


@pytest.mark.django_db
class TestAllowList:
    def test_an_allow_list_match_suppresses_the_other_banks_match_of_the_media(self, submit_report):
        known = known_bank()
        memes = allow_list()
        report = report_image(submit_report, known_image())
        matched = {m.entry.bank: m for m in Match.objects.select_related("entry__bank")}
        assert set(matched) == {known, memes}
        assert matched[known].suppressed_by == matched[memes]
        assert matched[memes].suppressed_by is None
        case = case_of(report)
        assert case.bank_match_level == BankMatch.NONE and case.bank_match_label == ""
        assert case.queue.slug != "child-safety-known" and not acted_on(report)
        assert case_route_input(case).bank_ids == frozenset()
        event = AuditEvent.objects.get(verb="media.matched")
        assert event.after["suppressed_by"] == "memes" and event.after["acting"] == []
        assert event.after["banks"] == ["known", "memes"]

    def test_an_allow_list_bank_never_acts_itself(self, submit_report):
        allow_list(policy=HashBank.Policy.ACT_AND_ESCALATE)
        report = report_image(submit_report, known_image())
        assert Match.objects.get().suppressed_by is None
        assert case_of(report).bank_match_level == BankMatch.NONE and not acted_on(report)

    def test_an_allow_list_entry_added_later_suppresses_going_forward(
        self, submit_report, run_jobs
    ):
        known_bank()
        report = report_image(submit_report, known_image(), platform_id="p-1", owner_id="a-1")
        assert case_of(report).bank_match_level == BankMatch.KNOWN_MATERIAL
        assert case_of(report).queue.slug == "child-safety-known" and acted_on(report)
        with run_jobs():
            allow_list()  # the import's rematch runs here
        known_match = Match.objects.get(entry__bank__slug="known")
        assert known_match.suppressed_by.entry.bank.slug == "memes"
        case = case_of(report)
        # Priority and routing follow the matches that count; what was asked of the platform
        # and the escalation stay, for a person to reverse.
        assert case.bank_match_level == BankMatch.NONE and case.queue.slug != "child-safety-known"
        assert acted_on(report)
        event = AuditEvent.objects.filter(verb="media.matched").latest("id")
        assert event.after["suppressed_by"] == "memes"
        assert event.after["actions"][0] == "bank match level 2 -> 0"
        assert any(a.startswith("routed to") for a in event.after["actions"])
        # A new copy now: matched by both, acted on by neither.
        forget_indexes()
        again = report_image(submit_report, known_image(), platform_id="p-2", owner_id="a-2")
        assert not acted_on(again) and case_of(again).bank_match_level == BankMatch.NONE

    def test_withdrawing_the_allow_list_entry_lets_the_suppressed_matches_count_again(
        self, submit_report, run_jobs
    ):
        known_bank()
        memes = allow_list()
        report = report_image(submit_report, known_image())
        assert case_of(report).bank_match_level == BankMatch.NONE
        with run_jobs():
            bank_entries_withdraw(
                entry_ids=[memes.entries.get().pk], reason="not a meme", actor_label="t"
            )
        assert Match.objects.get(entry__bank__slug="known").suppressed_by is None
        case = case_of(report)
        assert case.bank_match_level == BankMatch.KNOWN_MATERIAL
        assert case.queue.slug == "child-safety-known"
        # Going forward only: nothing is asked of the platform after the fact.
        assert not acted_on(report)


def flood_bank(limit=2, window=60) -> HashBank:
    bank = known_bank()
    HashBank.objects.filter(pk=bank.pk).update(flood_limit=limit, flood_window_minutes=window)
    return bank


def reports_of_known(submit_report, n: int, start: int = 0):
    return [
        report_image(submit_report, known_image(), platform_id=f"p-{i}", owner_id=f"a-{i}")
        for i in range(start, start + n)
    ]


@pytest.mark.django_db
class TestFloodGuard:
    def test_the_match_that_crosses_the_limit_quarantines_the_entry_before_it_acts(
        self, submit_report
    ):
        bank = flood_bank(limit=2)
        first, second, third, fourth = reports_of_known(submit_report, 4)
        assert acted_on(first) and acted_on(second)
        entry = bank.entries.get()
        assert entry.quarantined_at is not None
        assert "more than 2 distinct media within 60 minutes" in entry.quarantine_reason
        for report in (third, fourth):
            # Recorded, not acted on.
            assert Match.objects.filter(media__report=report, entry=entry).exists()
            assert not acted_on(report)
            assert case_of(report).bank_match_level == BankMatch.NONE
            assert case_route_input(case_of(report)).bank_ids == frozenset()
        event = AuditEvent.objects.get(verb="bankentry.quarantined")
        assert event.object_id == str(entry.pk) and event.actor_label == "flood guard"
        assert event.after["flood_limit"] == 2

    def test_matches_older_than_the_window_do_not_count(self, submit_report):
        bank = flood_bank(limit=1, window=30)
        reports_of_known(submit_report, 1)
        Match.objects.update(matched_at=timezone.now() - timedelta(minutes=31))
        (later,) = reports_of_known(submit_report, 1, start=1)
        assert acted_on(later) and bank.entries.get().quarantined_at is None

    def test_a_limit_of_zero_switches_it_off_and_allow_lists_are_left_out(self, submit_report):
        bank = flood_bank(limit=0)
        memes = allow_list()
        HashBank.objects.filter(pk=memes.pk).update(flood_limit=1)
        reports_of_known(submit_report, 3)
        assert not BankEntry.objects.filter(quarantined_at__isnull=False).exists()
        assert bank.entries.get().quarantined_at is None

    def test_a_released_entry_acts_again_going_forward_and_its_surge_is_not_counted_twice(
        self, submit_report, supervisor, run_jobs
    ):
        bank = flood_bank(limit=2)
        reports = reports_of_known(submit_report, 3)
        entry = bank.entries.get()
        with run_jobs():
            bank_entry_release(entry_id=entry.pk, reason="a real surge", user=supervisor)
        entry.refresh_from_db()
        assert entry.quarantined_at is None and entry.quarantine_reason == ""
        event = AuditEvent.objects.get(verb="bankentry.released")
        assert event.actor == supervisor and event.after == {"reason": "a real surge"}
        # The case matched while quarantined regains its priority and queue, not actions.
        held = case_of(reports[2])
        assert held.bank_match_level == BankMatch.KNOWN_MATERIAL
        assert held.queue.slug == "child-safety-known" and not acted_on(reports[2])
        # The next match acts; the three before the release do not count again.
        forget_indexes()
        (after,) = reports_of_known(submit_report, 1, start=3)
        assert acted_on(after)
        entry.refresh_from_db()
        assert entry.quarantined_at is None

    def test_releasing_an_entry_that_is_not_quarantined_is_refused(self, supervisor):
        from django.core.exceptions import ValidationError

        entry = known_bank().entries.get()
        with pytest.raises(ValidationError):
            bank_entry_release(entry_id=entry.pk, reason="why", user=supervisor)
        assert not AuditEvent.objects.filter(verb="bankentry.released").exists()


@pytest.mark.django_db
class TestWithdrawal:
    def test_withdrawn_entries_are_removed_and_their_matches_stop_counting(
        self, submit_report, run_jobs
    ):
        bank = known_bank()
        other = HashBank.objects.create(name="Watch list", slug="watch", signal_types=["pdq"])
        bank_import(bank=other, text="pdq " + hash_bytes(known_image())["pdq"])
        report = report_image(submit_report, known_image())
        decided = report_image(submit_report, known_image())
        Case.objects.filter(pk=decided.case_id).update(
            status=Case.Status.DECIDED, decided_at=timezone.now()
        )
        entry = bank.entries.get()
        version = BankVersion.current()
        with run_jobs():
            removed = bank_entries_withdraw(
                entry_ids=[entry.pk], reason="withdrawn at source", actor_label="exchange ncmec"
            )
        assert removed == 1 and BankVersion.current() > version
        entry.refresh_from_db()
        assert entry.removed_at is not None
        assert Match.objects.filter(entry=entry, withdrawn_at__isnull=True).count() == 0
        assert Match.objects.filter(entry=entry).count() == 2
        event = AuditEvent.objects.get(verb="bankentry.withdrawn")
        assert event.object_id == str(entry.pk) and event.actor_label == "exchange ncmec"
        assert event.after == {"reason": "withdrawn at source"}
        # The open case now stands on the bank still listing it; the decided one is left alone.
        case = case_of(report)
        assert case.bank_match_level == BankMatch.BANK
        assert case.bank_match_label == "bank match: Watch list"
        assert case_route_input(case).bank_ids == frozenset({other.pk})
        assert case.queue.slug != "child-safety-known"
        assert case_of(decided).bank_match_level == BankMatch.KNOWN_MATERIAL
        # Idempotent.
        with run_jobs():
            assert bank_entries_withdraw(entry_ids=[entry.pk], reason="x", actor_label="t") == 0
        assert AuditEvent.objects.filter(verb="bankentry.withdrawn").count() == 1

    def test_removing_an_entry_withdraws_its_matches_too(self, submit_report, admin_user, run_jobs):
        bank = known_bank()
        report = report_image(submit_report, known_image())
        with run_jobs():
            assert bank_entry_remove(entry=bank.entries.get(), user=admin_user, reason="typo")
        assert Match.objects.get().withdrawn_at is not None
        assert case_of(report).bank_match_level == BankMatch.NONE
        assert AuditEvent.objects.get(verb="bankentry.removed").after == {"reason": "typo"}

    def test_a_match_to_an_entry_removed_while_matching_is_recorded_withdrawn(self, submit_report):
        bank = known_bank()
        report = report_image(submit_report, known_image())
        media = report.media.get()
        entry = bank.entries.get()
        Match.objects.all().delete()
        BankEntry.objects.filter(pk=entry.pk).update(removed_at=timezone.now())
        with transaction.atomic():
            governed = matches_record(media=media, hits=[Hit(entry.pk, "pdq", 0, 0)])
        assert governed.withdrawn == [entry.pk] and governed.acting == []
        assert Match.objects.get().withdrawn_at is not None
