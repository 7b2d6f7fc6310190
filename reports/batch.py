"""Storing a batch of automated flags at once (`POST /api/v1/flags/batch`).

The result is what flag_submit gives called once per flag, in order — the same flags, content
items, case roll-up, audit events and hashing jobs — written in a bounded number of statements
whatever the batch's size: one read of the flags already stored, one of the content items and one
lock of their cases, then an INSERT or UPDATE per table (reports/batch_content.py for the items,
moderation/cases/rollup_batch.py for the cases), one INSERT of every audit event, one of every
outbox job. Per-flag transactions and round trips are what made a batch no faster than single
flags.

All of it is one transaction. Input the API validated cannot fail at write time, except through a
concurrent write (the same flag, content item or case arriving at the same moment: a unique
constraint, or a deadlock between two batches). Then nothing of the fast attempt is kept and the
batch is stored flag by flag with flag_submit, each flag in its own transaction, so one flag that
cannot be stored costs only itself.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import DataError, IntegrityError, OperationalError, transaction

from moderation.audit.services import audit_record_many
from moderation.cases.rollup_batch import BatchArrival, CaseRollupBatch
from moderation.cases.route_rules import source_of_flag
from moderation.outbox.services import enqueue_many
from reports.batch_content import ContentBatch
from reports.content import ContentFacts
from reports.jobs import check_account, hash_media
from reports.media import IncomingMedia, store_media
from reports.models import Flag, Media
from reports.services import counts_towards_owner, flag_submit, record_links

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlagIntake:
    """One flag of a batch: flag_submit's arguments."""

    source: str
    external_id: str
    category: str
    score: float
    content: ContentFacts
    model_version: str = ""
    description: str = ""
    involves_child: bool = False
    images: Sequence[IncomingMedia] = ()
    links: Sequence[str] = ()


@dataclass(frozen=True)
class FlagStored:
    flag_id: int
    case_id: int
    created: bool


@dataclass(frozen=True)
class FlagNotStored:
    """A flag the database refused: nothing of it was written."""

    error: str
    detail: str


NOT_STORED = FlagNotStored(
    "not_stored",
    "This flag could not be stored and nothing of it was written; the other flags of the batch "
    "were not affected. Sending it again is safe.",
)


def flag_submit_batch(
    *, flags: Sequence[FlagIntake], submitted_by=None, actor_label: str = "api"
) -> list[FlagStored | FlagNotStored]:
    """Accept many automated flags, idempotently on (source, external_id): one result per flag,
    in order. A flag already stored, or sent twice in the batch, is answered with the stored
    flag's ids and `created` false, and changes nothing."""
    if not flags:
        return []
    # The files first, outside the transaction: writing up to 500 of them while the batch's cases
    # are locked would hold up reviewers deciding them. Stored by content, so a file written for a
    # flag that turns out to be stored already, or a batch rolled back, only leaves a copy of
    # what was received, which nothing links to (as when a single flag's transaction fails).
    files = {id(image): store_media(image) for flag in flags for image in flag.images}
    try:
        with transaction.atomic(durable=True):
            return _store_together(
                flags, files=files, submitted_by=submitted_by, actor_label=actor_label
            )
    except (IntegrityError, DataError, OperationalError) as e:
        # A concurrent write got there first (or two batches deadlocked), or a flag the database
        # refuses: the transaction is rolled back whole, its jobs and audit sealing with it. One
        # flag at a time reads what the other writer committed and isolates a flag that cannot
        # be stored.
        logger.warning("flag batch of %d stored one flag at a time: %s", len(flags), e)
        return [
            _store_alone(flag, submitted_by=submitted_by, actor_label=actor_label) for flag in flags
        ]


def flag_intake_submit(flag: FlagIntake, *, submitted_by=None, actor_label: str = "api"):
    """One flag through flag_submit (POST /api/v1/flags, and a batch stored flag by flag)."""
    return flag_submit(
        source=flag.source,
        external_id=flag.external_id,
        category=flag.category,
        score=flag.score,
        content=flag.content,
        model_version=flag.model_version,
        description=flag.description,
        involves_child=flag.involves_child,
        images=flag.images,
        links=flag.links,
        submitted_by=submitted_by,
        actor_label=actor_label,
    )


def _store_alone(flag: FlagIntake, *, submitted_by, actor_label: str):
    try:
        stored, created = flag_intake_submit(
            flag, submitted_by=submitted_by, actor_label=actor_label
        )
    except (IntegrityError, DataError, OperationalError):
        # A flag the database refuses, or one caught in a deadlock with another writer: only
        # this flag is answered "not stored" (sending it again is safe).
        logger.exception("flag %s:%s could not be stored", flag.source, flag.external_id)
        return NOT_STORED
    return FlagStored(stored.pk, stored.case_id, created)


def _store_together(flags: Sequence[FlagIntake], *, files: dict, submitted_by, actor_label: str):
    results: list[FlagStored | None] = [None] * len(flags)
    # Idempotence: the flags already stored, read at once (a superset, narrowed by pair).
    pairs = {(f.source, f.external_id) for f in flags}
    stored = {
        (source, external_id): FlagStored(pk, case_id, False)
        for source, external_id, pk, case_id in Flag.objects.filter(
            source__in={s for s, _ in pairs}, external_id__in={e for _, e in pairs}
        ).values_list("source", "external_id", "pk", "case_id")
        if (source, external_id) in pairs
    }
    new: dict[tuple[str, str], int] = {}  # the first of the batch with that pair
    repeats: list[tuple[int, int]] = []  # (index, index of the first)
    for i, f in enumerate(flags):
        pair = (f.source, f.external_id)
        if pair in stored:
            results[i] = stored[pair]
        elif pair in new:
            repeats.append((i, new[pair]))
        else:
            new[pair] = i
    pending = list(new.values())
    if not pending:
        return results

    content = ContentBatch([flags[i].content for i in pending])
    steps = [content.get_or_create(flags[i].content) for i in pending]
    # Items first, then their cases' locks: the order a single flag takes them in.
    content.save()
    audit: list[dict] = []
    rollup = CaseRollupBatch(existing_items=content.found, audit=audit)
    written = []  # (index, flag, its media with their images, its flag.received event's after)
    for i, step in zip(pending, steps, strict=True):
        f = flags[i]
        case, outcome = rollup.attach(
            BatchArrival(
                content_item=step.item,
                category=f.category,
                involves_child=f.involves_child,
                source=source_of_flag(f.source),
                actor_label=actor_label,
                language=step.language,
                reach=step.reach,
                media_sha256s=frozenset(image.sha256 for image in f.images),
                language_is_new="language" in step.changed,
            )
        )
        flag = Flag(
            content_item=step.item,
            case=case,
            source=f.source,
            external_id=f.external_id,
            category=f.category,
            score=f.score,
            model_version=f.model_version,
            involves_child=f.involves_child,
            submitted_by=submitted_by,
        )
        media = [(Media(content_item=step.item, flag=flag), image) for image in f.images]
        priority = rollup.count_flag(case, score=f.score, reach=step.reach)
        after = {
            "source": f.source,
            "external_id": f.external_id,
            "category": f.category,
            "score": f.score,
            "media": None,  # their ids, once inserted
            "case": outcome,
            "priority": priority,
        }
        audit.append(
            {
                "verb": "flag.received",
                "obj": flag,
                "case": case,
                "actor_label": actor_label,
                "after": after,
            }
        )
        written.append((i, flag, media, after))

    rollup.save()
    Flag.objects.bulk_create([flag for _, flag, _, _ in written])
    all_media = []
    for _, _, media, _ in written:
        for m, image in media:
            _describe(m, image, files[id(image)])
            all_media.append(m)
    Media.objects.bulk_create(all_media)
    for i, flag, media, after in written:
        after["media"] = [m.pk for m, _ in media]
        results[i] = FlagStored(flag.pk, flag.case_id, True)
    for i, flag, _, after in written:
        found = record_links(flag.content_item, flags[i].links, flags[i].description, flag=flag)
        if found:
            after["links"] = found
    audit_record_many(audit)
    enqueue_many(hash_media, [(m.pk,) for m in all_media])
    owners = {
        f.content_item.owner_id for _, f, _, _ in written if counts_towards_owner(f.content_item)
    }
    enqueue_many(check_account, [(owner,) for owner in sorted(owners)])
    for i, first in repeats:
        results[i] = FlagStored(results[first].flag_id, results[first].case_id, False)
    return results


def _describe(media: Media, image: IncomingMedia, file: str) -> None:
    # services.store_media_rows' fields, with the file stored already (flag_submit_batch).
    for name, value in image.media_fields(file).items():
        setattr(media, name, value)
