"""Check the audit log's hash chain (public contract, SPEC "Public contract").

Exits 0 when the chain is intact; otherwise prints the first bad event (id, seq and what is
wrong: content hash mismatch, broken link, gap in seq, an event left unsealed, the newest events
cut off) and exits 1. Exits 2 when the check itself could not complete (the database went away, a
worker process died, a recorded head could not be read or written). Read-only unless --seal
(seal what is unsealed first) or --record (store the result for the /audit/ page, as the daily
job does). The daily sealed and recorded check needs no cron: with Redis the daily job runs it,
in the embedded mode the server's background scheduler (moderation/periodic/embedded.py). Run this
by hand, or from cron when no server runs.

The chain head, kept outside the database (moderation/audit/head.py). Removing the newest events
leaves a chain that is whole, only shorter, so it is noticed only against a record of where the
chain ended, kept where whoever can delete from the database cannot reach:

  --record                after a good verification also prints the head, one stable line:
                          HEAD seq=131 hash=<64 hex> events=131 at=2026-12-05T10:00:00Z
  --head-file PATH        after a good verification appends the head to PATH (one JSON line:
                          {"seq": 131, "hash": "...", "events": 131, "at": "..."}) and prints it
  --against PATH          also checks that the newest head in PATH (the highest seq) is still in
                          the chain with the same hash; if not, exits 1 naming the cut ("the chain
                          ends at seq 118 but a head recorded at ... names seq 131 (hash ...): 13
                          newest events are missing") or the rewrite ("seq 131 has hash ... but
                          ... names hash ...")
  --expect-head SEQ:HASH  the same for one head given on the command line

A daily `verify_audit_log --seal --record --against heads.jsonl --head-file heads.jsonl` checks
against the last head and, when all is well, appends today's. A failed check appends nothing.
"""

import sys
import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from moderation.audit.chain import UNSEALED_GRACE, VERIFY_BATCH, audit_seal
from moderation.audit.chain_verify import audit_verify, default_workers
from moderation.audit.head import ChainHead, HeadError, head_append, head_parse_expected, head_read
from moderation.audit.verification import audit_verification_run


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exit 1 naming the first bad event."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=VERIFY_BATCH)
        parser.add_argument(
            "--grace-minutes",
            type=int,
            default=int(UNSEALED_GRACE.total_seconds() // 60),
            help="An event still unsealed after this long is reported as a failure.",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=default_workers(),
            help="Processes checking the chain on PostgreSQL (default: VIGIL_AUDIT_VERIFY_WORKERS, else "
            "the CPUs it may use, at most 4); 1 checks in-process.",
        )
        parser.add_argument("--seal", action="store_true", help="Seal unsealed events first.")
        parser.add_argument(
            "--record",
            action="store_true",
            help="Seal, verify and store the result (the job); print the chain head when intact.",
        )
        parser.add_argument(
            "--head-file",
            metavar="PATH",
            help="When intact, append the chain head to PATH (a JSON line) to keep outside the "
            "database.",
        )
        expected = parser.add_mutually_exclusive_group()
        expected.add_argument(
            "--against",
            metavar="PATH",
            help="Also check that the newest head recorded in PATH is still in the chain, "
            "unchanged (newest events cut off are named).",
        )
        expected.add_argument(
            "--expect-head",
            metavar="SEQ:HASH",
            help="Also check that this head is still in the chain, unchanged.",
        )

    def handle(self, *args, **options):
        try:
            if options["against"]:
                head = head_read(path=options["against"])
            elif options["expect_head"]:
                head = head_parse_expected(text=options["expect_head"])
            else:
                head = None
        except HeadError as exc:
            raise CommandError(f"the check could not be made: {exc}", returncode=2) from exc
        try:
            self.check_chain(head=head, **options)
        except Exception as exc:
            # Not a verdict on the chain: the check itself broke (database, a worker process).
            raise CommandError(
                f"the check could not complete: {type(exc).__name__}: {exc}", returncode=2
            ) from exc

    def check_chain(
        self,
        *,
        batch_size,
        grace_minutes,
        workers,
        head=None,
        head_file=None,
        seal=False,
        record=False,
        **options,
    ):
        started, how = time.monotonic(), ""
        if record:
            v = audit_verification_run(workers=max(1, workers), head=head)
            ok, checked, message = v.ok, v.events_checked, v.message
            now = ChainHead(seq=v.last_seq, hash=v.last_hash, events=checked, at=v.finished_at)
        else:
            if seal:
                audit_seal(wait=True)
            result = audit_verify(
                batch=max(1, batch_size),
                unsealed_grace=timedelta(minutes=grace_minutes),
                head=head,
                workers=max(1, workers),
            )
            ok, checked, message = result.ok, result.checked, result.message
            how = "in-process, " if result.workers == 1 else f"{result.workers} processes, "
            now = ChainHead(
                seq=result.last_seq, hash=result.last_hash, events=checked, at=timezone.now()
            )
        elapsed = time.monotonic() - started
        if not ok:
            self.stderr.write(f"FAILED after {checked} good events: {message}")
            sys.exit(1)
        self.stdout.write(f"OK: {message} ({how}{elapsed:.1f} s)")
        if record or head_file:
            self.stdout.write(now.line())
        if head_file:
            head_append(path=head_file, head=now)
