"""RQ jobs for the audit log. Thin: take ids, call one service."""


def verify_audit_log(verification_id: int | None = None) -> None:
    """Seal and verify the audit hash chain, storing the result (moderation/audit/verification.py).
    The daily run passes no id (it creates its row); a supervisor's request passes its row."""
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.audit.verification import audit_verification_run

    audit_verification_run(verification_id=verification_id)
