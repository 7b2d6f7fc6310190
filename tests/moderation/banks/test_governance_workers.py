"""Match governance through real rqworkers on PostgreSQL + Redis: two workers hashing copies of a
listed image at once never both slip past the flood guard's limit; an allow-list imported later
suppresses a match through the import's rematch job; a withdrawal brings the open case back in
line through its job."""

import subprocess
import threading

import pytest
from django.db import connection, connections, transaction

from moderation.audit.models import AuditEvent
from moderation.banks.hashing import media_hash
from moderation.banks.models import BankEntry, HashBank, Match
from moderation.banks.services import bank_entries_withdraw, bank_import
from moderation.cases.models import Case
from moderation.cases.priority import BankMatch
from moderation.enforcement.models import EnforcementAction
from reports.hashing import hash_bytes
from reports.media import inspect_image
from tests.moderation.signals import known_bank, known_image
from tests.rqworker import (
    ROOT,
    needs_real_worker,
    run_burst_worker,
    wait_for,
    worker_command,
    worker_env,
)


def report_known(submit_report, n: int):
    """A report carrying the known image, its hashing job queued (not run)."""
    return submit_report(
        images=[inspect_image(known_image(), filename=f"{n}.jpg")],
        platform_id=f"p-{n}",
        owner_id=f"a-{n}",
    )


def acted(report) -> bool:
    return EnforcementAction.objects.filter(case_id=report.case_id).exists()


def flood_bank(limit: int) -> BankEntry:
    bank = known_bank()
    HashBank.objects.filter(pk=bank.pk).update(flood_limit=limit, flood_window_minutes=60)
    return bank.entries.get()


@needs_real_worker
@pytest.mark.django_db(transaction=True)
def test_two_real_workers_hashing_at_once_act_on_no_more_than_the_limit(
    submit_report, private_media
):
    entry = flood_bank(limit=2)
    reports = [report_known(submit_report, n) for n in range(6)]
    env = worker_env(PRIVATE_MEDIA_ROOT=str(private_media))
    workers = [
        subprocess.Popen(
            worker_command(),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err

    assert Match.objects.filter(entry=entry).count() == 6
    assert sum(acted(r) for r in reports) == 2
    entry.refresh_from_db()
    assert entry.quarantined_at is not None
    assert AuditEvent.objects.filter(verb="bankentry.quarantined").count() == 1


@needs_real_worker
@pytest.mark.django_db(transaction=True)
def test_the_flood_guard_counts_under_the_entry_lock(submit_report, private_media):
    """Both hashing jobs reach the entry while a third transaction holds it: once it lets go they
    count one after the other, and the second sees the first's match."""
    entry = flood_bank(limit=1)
    reports = [report_known(submit_report, n) for n in range(2)]
    errors = []

    def hash_one(media_id):
        try:
            media_hash(media_id=media_id)
        except Exception as e:  # noqa: BLE001 - reported by the test below
            errors.append(e)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=hash_one, args=(r.media.get().pk,)) for r in reports]
    with transaction.atomic():
        BankEntry.objects.select_for_update().get(pk=entry.pk)
        for thread in threads:
            thread.start()

        def both_waiting() -> bool:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                return cursor.fetchone()[0] >= 2

        wait_for(both_waiting, timeout=120)
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert Match.objects.filter(entry=entry).count() == 2
    assert sorted(acted(r) for r in reports) == [False, True]
    entry.refresh_from_db()
    assert entry.quarantined_at is not None


@needs_real_worker
@pytest.mark.django_db(transaction=True)
def test_an_allow_list_import_and_a_withdrawal_through_real_workers(submit_report, private_media):
    known_bank()
    watch = HashBank.objects.create(name="Watch list", slug="watch", signal_types=["pdq"])
    bank_import(bank=watch, text="pdq " + hash_bytes(known_image())["pdq"])
    first = report_known(submit_report, 1)
    run_burst_worker(PRIVATE_MEDIA_ROOT=str(private_media))
    case = Case.objects.get(pk=first.case_id)
    assert case.bank_match_level == BankMatch.KNOWN_MATERIAL and acted(first)

    # The known bank's entry is withdrawn at source: the case stands on the watch list alone.
    known_entry = BankEntry.objects.get(bank__slug="known")
    assert bank_entries_withdraw(entry_ids=[known_entry.pk], reason="gone", actor_label="t") == 1
    run_burst_worker(PRIVATE_MEDIA_ROOT=str(private_media))
    case.refresh_from_db()
    assert case.bank_match_level == BankMatch.BANK and case.queue.slug != "child-safety-known"

    # An allow-list listing the image, imported now: its rematch suppresses the watch list's.
    memes = HashBank.objects.create(
        name="Memes", slug="memes", signal_types=["pdq"], is_allow_list=True
    )
    bank_import(bank=memes, text="pdq " + hash_bytes(known_image())["pdq"])
    run_burst_worker(PRIVATE_MEDIA_ROOT=str(private_media))
    watch_match = Match.objects.get(entry__bank=watch)
    assert watch_match.suppressed_by.entry.bank == memes
    case.refresh_from_db()
    assert case.bank_match_level == BankMatch.NONE
