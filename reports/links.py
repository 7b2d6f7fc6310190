"""Fetching the links found in reports, flags and messages (recorded by reports/link_intake.py),
so that an image or a video behind one is stored, hashed and matched against the banks exactly
like an upload.

One attempt (`link_fetch`, run by the job `reports.jobs.fetch_link` on the `links` queue, which
workers take after `high` and `default`: links anyone may send by the hundred never hold up the
hashing of a reported picture) has three steps:

1. claim: the link is re-read under its row lock and left alone unless still pending (a second
   run of the job, or a run after a worker died having recorded it, changes nothing). The attempt
   is counted before the network is touched, so a worker killed mid-fetch has used it up too and a
   link that kills workers cannot be queued again forever; a link out of attempts is failed.
2. fetch, with no transaction open (no row lock is ever held over the network): lib/safe_fetch.py,
   public addresses only, bounded in time, redirects and bytes (an image's or a video's upload
   limit, by the type the server gives); then the bytes get the check an upload gets
   (reports/media.py: the bytes decide the format, every pixel decoded, no decompression bombs,
   a video's container and first frame).
3. store: the file is written under its SHA-256 (a worker that died after writing it leaves the
   very file a later attempt writes), then one transaction re-reads the link under its lock and,
   if it is still pending, adds the Media (to the link's report or flag and message), marks the
   link fetched, records `link.fetched` and queues the hashing job uploads get, which matches the
   file against the banks and acts on the case as for an upload.

A link refused (not public, not an image or a video, too large, too slow, too many redirects, an
encoded answer, a file that fails the upload check) is refused for good with the reason
(`link.refused`; reviewers read it, so it never names the internal address a name resolved to). A server down or overloaded leaves the link pending for another attempt (the
job hands RQ a `Retry`; `links_requeue_pending` catches links whose job was lost, and is how the
embedded mode tries again) until the last attempt fails it (`link.failed`). Nothing a link or its
server does raises out of the job: the worker never dies of a link.
"""

import logging
import urllib.parse
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lib.jobs import job_path
from lib.safe_fetch import Fetched, FetchRefused, fetch
from moderation.audit.services import audit_record
from moderation.outbox.models import OutboxJob
from moderation.outbox.services import enqueue, enqueue_many
from moderation.periodic.embedded import Every
from reports.jobs import fetch_link, hash_media
from reports.media import IncomingMedia, MediaRejected, inspect_media, store_media
from reports.models import Link, Media

logger = logging.getLogger(__name__)

ACTOR = "link fetcher"
Status = Link.Status


def link_max_attempts() -> int:
    return 1 + len(settings.LINK_FETCH_RETRY_INTERVALS)


def link_retry_in(link: Link) -> int | None:
    """Seconds before the next attempt at a link left pending by a passing failure; None when
    there is none to make (fetched, refused, failed, or not tried yet)."""
    if link.status != Status.PENDING or not 1 <= link.attempts < link_max_attempts():
        return None
    return settings.LINK_FETCH_RETRY_INTERVALS[link.attempts - 1]


@dataclass(frozen=True)
class Downloaded:
    """What one fetch brought: the answer and the checked file, or why there is none."""

    fetched: Fetched | None = None
    media: IncomingMedia | None = None
    error: str = ""
    transient: bool = False


def link_fetch(*, link_id: int) -> Link:
    """Make one attempt at a pending link (the module's docstring says how). Returns the link as
    it stands after the attempt."""
    link, claimed = link_claim(link_id=link_id)
    if not claimed:
        return link
    downloaded = link_download(link)
    if downloaded.media is None:
        return link_record_failure(
            link_id=link_id, error=downloaded.error, transient=downloaded.transient
        )
    return link_store(link_id=link_id, downloaded=downloaded)


def link_claim(*, link_id: int) -> tuple[Link, bool]:
    """The link, and whether to fetch it now: still pending, with an attempt left (counted
    here). A pending link out of attempts is failed."""
    with transaction.atomic(durable=True):
        link = _locked(link_id)
        if link.status != Status.PENDING:
            return link, False
        if link.attempts >= link_max_attempts():
            # Its last attempt never finished (the worker was killed mid-fetch, the job lost).
            _finish(link, Status.FAILED, link.error or "no attempt finished")
            return link, False
        link.attempts += 1
        link.save(update_fields=["attempts"])
    return link, True


def link_download(link: Link) -> Downloaded:
    """Fetch the link and check what came as an upload is checked. Call it outside any
    transaction: it waits on someone else's server."""
    try:
        fetched = fetch(
            link.url,
            max_bytes={"image/": settings.MAX_UPLOAD_BYTES, "video/": settings.MAX_VIDEO_BYTES},
            timeout=settings.LINK_FETCH_TIMEOUT,
            max_redirects=settings.LINK_FETCH_MAX_REDIRECTS,
        )
        name = _filename(fetched.final_url) or _filename(link.url)
        label = name or "the linked file"
        try:
            media = inspect_media(fetched.data, filename=label)
        except MediaRejected as e:
            # The words an uploader gets, without the file name (the URL's own, on record).
            return Downloaded(fetched=fetched, error=e.message.removeprefix(f"{label}: "))
    except FetchRefused as e:
        return Downloaded(error=e.reason, transient=e.transient)
    except Exception as e:
        # Someone else's bytes broke a parser or the fetch in a way not foreseen: logged for
        # operators, and refused for good rather than tried again on the same bytes.
        logger.exception("link %s could not be fetched or checked", link.pk)
        return Downloaded(error=f"it could not be fetched or checked ({type(e).__name__})")
    return Downloaded(fetched=fetched, media=media)


def link_store(*, link_id: int, downloaded: Downloaded) -> Link:
    """Store a fetched file as the link's media, mark the link fetched and queue its hashing, if
    the link is still pending (a duplicate run may have stored it meanwhile)."""
    incoming, fetched = downloaded.media, downloaded.fetched
    # Written before the transaction, under its SHA-256: a worker dying after this leaves the
    # file a later attempt writes again (store_media then finds it there).
    file = store_media(incoming)
    with transaction.atomic(durable=True):
        link = _locked(link_id)
        if link.status != Status.PENDING:
            return link
        fields = incoming.media_fields(file)
        fields["original_filename"] = (_filename(fetched.final_url) or _filename(link.url))[:255]
        media = Media.objects.create(
            **fields,
            content_item_id=link.content_item_id,
            report_id=link.report_id,
            flag_id=link.flag_id,
            message_id=link.message_id,
        )
        link.status = Status.FETCHED
        link.media = media
        link.final_url = fetched.final_url[:2000]
        link.content_type = fetched.content_type[:100]
        link.fetched_at = timezone.now()
        link.error = ""
        link.save(
            update_fields=["status", "media", "final_url", "content_type", "fetched_at", "error"]
        )
        # The URL may be evidence and may carry someone's token: the host only.
        audit_record(
            verb="link.fetched",
            obj=link,
            case=_case(link),
            actor_label=ACTOR,
            after={
                "link": link.pk,
                "host": urllib.parse.urlsplit(fetched.final_url).hostname or "",
                "media": media.pk,
                "kind": media.kind,
                "attempts": link.attempts,
            },
        )
        enqueue(hash_media, media.pk)
    return link


def link_record_failure(*, link_id: int, error: str, transient: bool) -> Link:
    """Record an attempt that brought nothing: refused for good, or, when the cause may pass,
    left pending for another attempt while one is left (failed after the last)."""
    with transaction.atomic(durable=True):
        link = _locked(link_id)
        if link.status != Status.PENDING:
            return link
        if transient and link.attempts < link_max_attempts():
            link.error = error[:300]
            link.save(update_fields=["error"])
            logger.warning(
                "link %s not fetched (attempt %d of %d), trying again: %s",
                link.pk,
                link.attempts,
                link_max_attempts(),
                link.error,
            )
            return link
        _finish(link, Status.FAILED if transient else Status.REFUSED, error)
    return link


def links_requeue_pending(*, older_than: timedelta, limit: int = 500) -> int:
    """Queue fetching again for links still pending long after they were recorded (their job was
    lost: a Redis restart without persistence; or, in the embedded mode, the next attempt after a
    passing failure). Returns how many were queued. A link queued in the last `older_than` is left
    alone; attempts are counted on the link, so one is never tried more often than allowed."""
    now = timezone.now()
    recently_queued = OutboxJob.objects.filter(
        func=job_path(fetch_link), created_at__gt=now - older_than
    ).values_list("args", flat=True)
    recent = {args[0] for args in recently_queued if args}
    stale = list(
        Link.objects.filter(status=Status.PENDING, created_at__lte=now - older_than)
        .exclude(pk__in=recent)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    with transaction.atomic(durable=True):
        enqueue_many(fetch_link, [(link_id,) for link_id in stale])
    return len(stale)


# The embedded mode's retries: with no RQ to wait out a passing failure, the serving process's
# background thread (config/wsgi.py) queues the next attempts, a few at a time since they run in
# that thread.
EMBEDDED_LINK_RETRIES = Every(
    "link fetches to try again",
    300,
    lambda: links_requeue_pending(older_than=timedelta(minutes=5), limit=20),
)


def _locked(link_id: int) -> Link:
    return (
        Link.objects.select_for_update(of=("self",))
        .select_related("report__case", "flag__case")
        .get(pk=link_id)
    )


def _case(link: Link):
    return link.report.case if link.report_id else link.flag.case


def _finish(link: Link, status: str, error: str) -> None:
    link.status = status
    link.error = error[:300]
    link.save(update_fields=["status", "error"])
    audit_record(
        verb="link.failed" if status == Status.FAILED else "link.refused",
        obj=link,
        case=_case(link),
        actor_label=ACTOR,
        after={"link": link.pk, "reason": link.error, "attempts": link.attempts},
    )


def _filename(url: str) -> str:
    """The URL path's last segment, decoded, as the file's original name ("" if none)."""
    try:
        path = urllib.parse.urlsplit(url).path
    except ValueError:
        return ""
    name = urllib.parse.unquote(path.rstrip("/").rpartition("/")[2])
    return "".join(c for c in name if c.isprintable()).strip()
