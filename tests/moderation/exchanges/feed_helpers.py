"""Helpers for the published-feed tests: a published bank, tokens, and a partner following it."""

import json

from django.db import transaction

from moderation.banks.hashlists import vpdq_value
from moderation.banks.models import HEX_LENGTH, BankEntry, BankEntryFrame, BankVersion, HashBank
from moderation.banks.snapshot import bank_write_gate
from moderation.exchanges.feed_tokens import feed_token_create
from reports.vpdq import from_signal


def published_bank(slug="shared", *, published=True, **fields) -> HashBank:
    return HashBank.objects.create(
        name=slug.title(),
        slug=slug,
        signal_types=["pdq", "md5", "vpdq"],
        is_published=published,
        **fields,
    )


def md5(n: int) -> str:
    return f"{n:032x}"


def add(
    bank: HashBank, *numbers: int, labels: tuple[str, ...] = (), signal_type: str = "md5"
) -> list[BankEntry]:
    """Add entries (md5 unless told: `n` as hex) as every writer of entries does: one transaction holding the write gate
    from its start (moderation/banks/snapshot.py)."""
    with transaction.atomic():
        bank_write_gate()
        entries = BankEntry.objects.bulk_create(
            BankEntry(
                bank=bank,
                signal_type=signal_type,
                value=f"{n:0{HEX_LENGTH[signal_type]}x}",
                labels=list(labels),
            )
            for n in numbers
        )
        BankVersion.bump()
    return entries


def add_video(bank: HashBank, frames: list[str]) -> BankEntry:
    """A vPDQ entry and its frames ("pdq,quality,timestamp" each), written as `add` writes."""
    parsed = from_signal(json.dumps(frames))
    with transaction.atomic():
        bank_write_gate()
        entry = BankEntry.objects.create(
            bank=bank, signal_type="vpdq", value=vpdq_value(parsed), labels=["video"]
        )
        BankEntryFrame.objects.bulk_create(
            BankEntryFrame(
                entry=entry, position=i, pdq=f.pdq, quality=f.quality, timestamp=f.timestamp
            )
            for i, f in enumerate(parsed)
        )
    return entry


def token_for_banks(*banks, name="partner") -> str:
    return feed_token_create(name=name, banks=list(banks))[1]


def read(client, token, slug="shared", **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    params = {k: v for k, v in params.items() if v is not None}
    return client.get(f"/api/v1/feeds/{slug}", params, **headers)


def lines(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.content.decode().splitlines()]


class Partner:
    """A partner platform following a feed: applies each page, keeps the checkpoint."""

    def __init__(self, client, token, slug="shared", limit=None):
        self.client, self.token, self.slug, self.limit = client, token, slug, limit
        self.checkpoint = None
        self.held: dict[str, str] = {}

    def poll(self) -> list[list[dict]]:
        """Read until the feed says there is no more; the pages read."""
        pages = []
        while True:
            r = read(
                self.client, self.token, self.slug, checkpoint=self.checkpoint, limit=self.limit
            )
            page = lines(r)
            pages.append(page)
            for line in page:
                if line["deleted"]:
                    assert line["id"] in self.held, f"removal of {line['id']} never handed out"
                    del self.held[line["id"]]
                else:
                    assert line["id"] not in self.held, f"{line['id']} handed out twice"
                    self.held[line["id"]] = line["signal"]
            self.checkpoint = r["X-Vigil-Checkpoint"]
            if r["X-Vigil-More"] == "false":
                return pages
            assert r["X-Vigil-More"] == "true"


def live(bank) -> dict[str, str]:
    return {
        str(pk): value
        for pk, value in BankEntry.objects.filter(bank=bank, removed_at__isnull=True).values_list(
            "pk", "value"
        )
    }
