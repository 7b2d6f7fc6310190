"""RQ jobs for intake. Thin: take ids, call one service."""

from rq import Retry, get_current_job


def hash_media(media_id: int) -> None:
    # Imported when the job runs: the hashing service's callers import this module to enqueue it.
    from moderation.banks.hashing import media_hash

    media_hash(media_id=media_id)


# Many a second, each a few tens of milliseconds: Vigil's worker runs it in its own process rather
# than forking a work horse for it (config/worker.py).
hash_media.runs_in_worker = True
# Tens of milliseconds, except the first after a list of millions is imported, which may take the
# bank's index snapshot for every worker (67 s at 10M entries, bench/pipeline.py).
hash_media.job_timeout = 30 * 60


def check_account(account_id: str) -> None:
    # Imported when the job runs: intake imports this module to enqueue it, and the rule
    # flags through intake.
    from reports.account_rules import account_case_check

    account_case_check(account_id=account_id)


def fetch_link(link_id: int):
    """One attempt at fetching a link found in a report, a flag or a message (reports/links.py).

    A server down or overloaded (refused or reset connections, 5xx, 429, DNS not answering) leaves
    the link pending: under an RQ worker the job hands RQ a `Retry` with the delay
    LINK_FETCH_RETRY_INTERVALS gives, the link's own attempts deciding when it has failed (RQ's
    count is only a backstop). In-process (embedded mode, no worker to wait), the next attempt is
    left to `links_requeue_pending`. Never raises for what a link or its server does.
    """
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from reports.links import link_fetch, link_max_attempts, link_retry_in

    link = link_fetch(link_id=link_id)
    wait = link_retry_in(link)
    if wait is None or get_current_job() is None:
        return None
    return Retry(max=link_max_attempts(), interval=wait)


# The fetch's own deadline (LINK_FETCH_TIMEOUT) bounds the transfer; name lookups, checking a
# video's first frame and storing up to MAX_VIDEO_BYTES take the rest. Killed past this, the job
# is retried by RQ and the attempt still counts (reports/links.py counts it before fetching).
fetch_link.job_timeout = 5 * 60
# Links anyone may send wait on a queue of their own, below the default one (workers listen on
# `high default links`, in that order): a picture reported behind 200 pending links was hashed
# 37.7 s late on the shared queue (docs/performance.md), delaying known-material matching.
fetch_link.queue = "links"
