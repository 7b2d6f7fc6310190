"""RQ jobs for escalations. Thin: take ids, call one service."""


def assemble_packet(escalation_id: int) -> None:
    """Assemble an approved escalation's packet (moderation/packet.py).

    Idempotent: it acts only on an escalation still in ASSEMBLING, and the packet is deterministic,
    so a second run, or a run after a worker died halfway, gives the same packet. Transient errors
    (the database or storage briefly away, evidence still being hashed) propagate, and RQ retries
    the job (lib.jobs hands every job over with a `Retry`); the relay loop's sweep queues again an
    assembly whose job was lost altogether.
    """
    from moderation.packet import escalation_assemble

    escalation_assemble(escalation_id=escalation_id)
