"""One reviewer working a queue to the end, in its own process (used by test_claim_processes).

    python tests/moderation/claim_worker.py USERNAME QUEUE_SLUG OUT_FILE

Claims (from that queue, or from every queue the reviewer may work when QUEUE_SLUG is "*"),
decides, claims again until nothing is claimable; writes the claimed case ids, one per line, to
OUT_FILE. DATABASE_URL must name the test database.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()

from accounts.models import User  # noqa: E402
from moderation.cases.models import Queue  # noqa: E402
from moderation.cases.services import case_claim_next  # noqa: E402
from moderation.review.services import case_decide  # noqa: E402


def main(username: str, queue_slug: str, out: str) -> None:
    user = User.objects.get(username=username)
    queue = None if queue_slug == "*" else Queue.objects.get(slug=queue_slug)
    claimed = []
    while (case := case_claim_next(user=user, queue=queue)) is not None:
        claimed.append(case.pk)
        case_decide(case_id=case.pk, user=user, action="no_violation", policy="spam")
    Path(out).write_text("".join(f"{pk}\n" for pk in claimed))


if __name__ == "__main__":
    main(*sys.argv[1:4])
