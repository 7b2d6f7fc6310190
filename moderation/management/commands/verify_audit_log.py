"""Check the audit log's hash chain (public contract, SPEC "Public contract").

Exits 0 when the chain is intact; otherwise prints the first bad event (id, seq and what is
wrong: content hash mismatch, broken link, gap in seq, an event left unsealed) and exits 1. Exits
2 when the check itself could not complete (the database went away, a worker process died).
Read-only unless --seal (seal what is unsealed first) or --record (store the result for the
/audit/ page, as the daily job does). With Redis the daily job runs this; in the embedded mode
run `verify_audit_log --seal --record` from cron.
"""

import sys
import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from moderation.audit.chain import UNSEALED_GRACE, VERIFY_BATCH, audit_seal
from moderation.audit.chain_verify import audit_verify, default_workers
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
            "--record", action="store_true", help="Seal, verify and store the result (the job)."
        )

    def handle(self, *args, **options):
        try:
            self.check_chain(**options)
        except Exception as exc:
            # Not a verdict on the chain: the check itself broke (database, a worker process).
            raise CommandError(
                f"the check could not complete: {type(exc).__name__}: {exc}", returncode=2
            ) from exc

    def check_chain(
        self, *, batch_size, grace_minutes, workers, seal=False, record=False, **options
    ):
        started, how = time.monotonic(), ""
        if record:
            v = audit_verification_run(workers=max(1, workers))
            ok, checked, message = v.ok, v.events_checked, v.message
        else:
            if seal:
                audit_seal(wait=True)
            result = audit_verify(
                batch=max(1, batch_size),
                unsealed_grace=timedelta(minutes=grace_minutes),
                workers=max(1, workers),
            )
            ok, checked, message = result.ok, result.checked, result.message
            how = "in-process, " if result.workers == 1 else f"{result.workers} processes, "
        elapsed = time.monotonic() - started
        if ok:
            self.stdout.write(f"OK: {message} ({how}{elapsed:.1f} s)")
            return
        self.stderr.write(f"FAILED after {checked} good events: {message}")
        sys.exit(1)
