"""RQ jobs for banks. Thin: take ids, call one service."""

from datetime import datetime

from moderation.banks.models import BankEntry
from reports.services import media_rematch


def rematch_media(bank_id: int, added_at: str) -> None:
    """Match media already received against the entries one import added to a bank."""
    entry_ids = list(
        BankEntry.objects.filter(
            bank_id=bank_id, added_at=datetime.fromisoformat(added_at), removed_at__isnull=True
        ).values_list("pk", flat=True)
    )
    media_rematch(entry_ids=entry_ids)
