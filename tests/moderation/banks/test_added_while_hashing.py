"""An entry added while media is being hashed is never missed: either the hashing job matches it
(it reads the bank version as it starts matching, whatever its process last saw) or the import's
rematch does (it waits for hashing jobs in flight before it reads the media received)."""

import threading
import time

import pytest
from django.db import connection, connections

from moderation.banks import matching
from moderation.banks.hashing import media_rematch
from moderation.banks.matching import find_matches, forget_indexes, matching_in_flight
from moderation.banks.models import HashBank, Match
from moderation.banks.services import bank_import
from reports.hashing import hash_bytes
from reports.jobs import hash_media
from reports.media import inspect_image
from tests.moderation.signals import known_image


@pytest.fixture(autouse=True)
def fresh_indexes():
    forget_indexes()
    yield
    forget_indexes()


@pytest.mark.django_db
def test_an_entry_added_after_the_worker_last_looked_is_matched(
    submit_report, run_jobs, monkeypatch
):
    bank = HashBank.objects.create(name="Known", slug="known", signal_types=["pdq"])
    bank_import(bank=bank, text="pdq " + "0f" * 32)
    data = known_image()
    report = submit_report(images=[inspect_image(data, filename="a.jpg")])
    # The worker's indexes were brought up to date a moment ago (before its fork, say), and it
    # will not look at the bank version again for REFRESH_SECONDS.
    find_matches(pdq_variants=["0f" * 32])
    frozen = time.monotonic()
    monkeypatch.setattr(matching.time, "monotonic", lambda: frozen)
    # The picture is listed now, and the import's rematch runs at once: the media is not hashed
    # yet, so it finds nothing to match.
    with run_jobs():
        bank_import(bank=bank, text="pdq " + hash_bytes(data)["pdq"])
    assert not Match.objects.exists()

    hash_media(report.media.get().pk)

    (match,) = Match.objects.all()
    assert match.entry.bank == bank
    assert match.media.report == report


@pytest.mark.django_db
def test_an_unchanged_bank_is_not_matched_twice(submit_report, monkeypatch):
    bank = HashBank.objects.create(name="Known", slug="known", signal_types=["pdq"])
    bank_import(bank=bank, text="pdq " + "0f" * 32)
    report = submit_report(images=[inspect_image(known_image(), filename="a.jpg")])
    media_id = report.media.get().pk
    calls = []
    real = matching.find_image_matches

    def counted(perceptual, **kwargs):
        calls.append(kwargs.get("fresh", False))
        return real(perceptual, **kwargs)

    monkeypatch.setattr("moderation.banks.hashing.find_image_matches", counted)
    hash_media(media_id)
    assert calls == [False]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_rematch_waits_for_hashing_jobs_in_flight():
    holding, release = threading.Event(), threading.Event()

    def hashing_job():
        try:
            with matching_in_flight():
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    def rematch():
        try:
            media_rematch(entry_ids=[])
        finally:
            connections.close_all()

    job = threading.Thread(target=hashing_job)
    job.start()
    assert holding.wait(10)
    started = threading.Thread(target=rematch)
    started.start()
    started.join(0.5)
    assert started.is_alive(), "the rematch read the media while a hashing job was in flight"
    release.set()
    started.join(10)
    job.join(10)
    assert not started.is_alive()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_hashing_jobs_do_not_wait_for_each_other():
    release = threading.Event()

    def hashing_job(ready):
        try:
            with matching_in_flight():
                ready.set()
                release.wait(10)
        finally:
            connections.close_all()

    first_ready, second_ready = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=hashing_job, args=(first_ready,)),
        threading.Thread(target=hashing_job, args=(second_ready,)),
    ]
    for t in threads:
        t.start()
    assert first_ready.wait(10) and second_ready.wait(10)
    release.set()
    for t in threads:
        t.join(10)
